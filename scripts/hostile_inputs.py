"""Hostile inputs against a checkout of the package: what crashes, what is lost, what is refused.

Runs about 45 hostile cases (malformed article and sentence files, hostile directories,
tampered model directories and caches, concurrent and interrupted runs, comparisons that should
refuse) through the command-line tools of a checkout, each in a fresh process, and prints one
line per case and a summary table. ``--tree DIR`` picks the checkout (default: this one), so
the same script measures before and after a change (``git worktree add /tmp/old REV``).

Outcomes: ``refused`` (exit 2 with one clear message, no traceback), ``handled`` (exit 0 and
every bad record is skipped *and* reported, nothing else lost), ``crash`` (a traceback or an
unexpected exit), ``silent`` (exit 0 but records were lost, corrupted or read that should not
have been), ``hang`` (past the time limit).

Usage: python scripts/hostile_inputs.py [--tree DIR] [--only NAME ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOOD = "Officials said the talks would resume in Doha next week. Both delegations agreed to meet."


@dataclass
class Ctx:
    tree: Path
    tmp: Path
    tfidf: Path
    tiny: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.tree), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "STANCE_CACHE_DIR": str(self.tmp / "cache")}

    def run(self, tool: str, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        code = f"import sys; from stance.cli.{tool} import main; sys.argv = ['stance-{tool}', *sys.argv[1:]]; main()"
        try:
            return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=self.tmp, env=self.env(),
                                  capture_output=True, text=True, timeout=timeout, **kw)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(e.cmd, -999, "", "timeout")

    def score(self, inp: Path, *extra: str, model: Path | None = None, out: str = "out.jsonl", timeout: float = 120):
        return self.run("score", "--model", model or self.tfidf, "--input", inp, "--output", self.tmp / out,
                        "--no-progress", *extra, timeout=timeout)


def outcome(proc: subprocess.CompletedProcess, ok: Callable[[], bool] | None = None) -> str:
    text = proc.stdout + proc.stderr
    if proc.returncode == -999:
        return "hang"
    if "Traceback" in text:
        return "crash"
    if proc.returncode == 2 and "error:" in text:
        return "refused"
    if proc.returncode == 0:
        return "handled" if ok is None or ok() else "silent"
    return "crash"


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_info(ctx: Ctx, out: str = "out.jsonl") -> dict:
    for name in (f"{out}.run.json", Path(out).stem + ".run.json"):
        p = ctx.tmp / name
        if p.is_file():
            return json.loads(p.read_text())
    return {}


def skipped(ctx: Ctx, out: str = "out.jsonl") -> list[dict]:
    return (run_info(ctx, out).get("last_run") or {}).get("skipped") or []


def arts(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def good(i: int) -> dict:
    return {"id": f"a{i}", "source": "S", "text": GOOD}


# --------------------------------------------------------------------------- cases: article files


def c_json_array_non_object(ctx: Ctx) -> str:
    p = ctx.tmp / "a.json"
    p.write_text(json.dumps([good(1), "not an object", good(2)]))
    proc = ctx.score(p)
    return outcome(proc, lambda: {r["article_id"] for r in records(ctx.tmp / "out.jsonl")} == {"a1", "a2"}
                   and len(skipped(ctx)) == 1)


def c_corrupt_parquet(ctx: Ctx) -> str:
    p = ctx.tmp / "a.parquet"
    p.write_bytes(b"PAR1" + os.urandom(200) + b"PAR1")
    return outcome(ctx.score(p), lambda: False)


def c_empty_parquet(ctx: Ctx) -> str:
    p = ctx.tmp / "a.parquet"
    p.write_bytes(b"")
    return outcome(ctx.score(p), lambda: False)


def _big_csv(ctx: Ctx) -> Path:
    p = ctx.tmp / "a.csv"
    big = ("Officials said the talks would resume. " * 5000)[:200_000]
    p.write_text(f"id,source,text\nbig,S,\"{big}\"\nsmall,S,\"{GOOD}\"\n", encoding="utf-8")
    return p


def c_csv_field_over_limit(ctx: Ctx) -> str:
    proc = ctx.score(_big_csv(ctx))
    return outcome(proc, lambda: {r["article_id"] for r in records(ctx.tmp / "out.jsonl")} == {"big", "small"})


def c_csv_field_over_limit_skip(ctx: Ctx) -> str:
    proc = ctx.score(_big_csv(ctx), "--on-error", "skip")
    return outcome(proc, lambda: "small" in {r["article_id"] for r in records(ctx.tmp / "out.jsonl")})


def c_mixed_encoding_jsonl(ctx: Ctx) -> str:
    p = ctx.tmp / "a.jsonl"
    lines = [json.dumps({"id": "u1", "source": "S", "text": "Erdoğan said the talks in İstanbul would go on."},
                        ensure_ascii=False).encode("utf-8"),
             json.dumps({"id": "c1", "source": "S", "text": "The caf\u00e9 owner said trade stopped."},
                        ensure_ascii=False).encode("cp1252")]
    p.write_bytes(b"\n".join(lines) + b"\n")
    proc = ctx.score(p)

    def ok() -> bool:
        texts = {r["article_id"]: r["text"] for r in records(ctx.tmp / "out.jsonl")}
        return "Erdoğan" in texts.get("u1", "") and "İstanbul" in texts.get("u1", "") and "café" in texts.get("c1", "")
    return outcome(proc, ok)


def c_csv_unterminated_quote(ctx: Ctx) -> str:
    p = ctx.tmp / "a.csv"
    p.write_text(f'id,source,text\na1,S,"{GOOD}\na2,S,{GOOD}\na3,S,{GOOD}\n', encoding="utf-8")
    proc = ctx.score(p)
    return outcome(proc, lambda: {"a2", "a3"} <= {r["article_id"] for r in records(ctx.tmp / "out.jsonl")}
                   and bool(skipped(ctx)))


def c_csv_without_header(ctx: Ctx) -> str:
    p = ctx.tmp / "a.csv"
    p.write_text(f'a1,S,"{GOOD}"\na2,S,"{GOOD}"\n', encoding="utf-8")
    return outcome(ctx.score(p), lambda: len(records(ctx.tmp / "out.jsonl")) > 0)


def _typed(ctx: Ctx, field: str, value: object) -> str:
    rec = {**good(1), field: value}
    p = arts(ctx.tmp / "a.jsonl", [rec, good(2)])
    proc = ctx.score(p)
    return outcome(proc, lambda: {r["article_id"] for r in records(ctx.tmp / "out.jsonl")} == {"a2"}
                   and len(skipped(ctx)) == 1)


def c_text_number(ctx: Ctx) -> str:
    return _typed(ctx, "text", 12345)


def c_text_list(ctx: Ctx) -> str:
    return _typed(ctx, "text", ["Officials said", "the talks failed."])


def c_text_dict(ctx: Ctx) -> str:
    return _typed(ctx, "text", {"body": GOOD})


def c_text_bool(ctx: Ctx) -> str:
    return _typed(ctx, "text", True)


def c_id_list(ctx: Ctx) -> str:
    return _typed(ctx, "id", ["a", "b"])


def c_id_float(ctx: Ctx) -> str:
    return _typed(ctx, "id", 1.5)


def c_source_int(ctx: Ctx) -> str:
    return _typed(ctx, "source", 42)


# --------------------------------------------------------------------------- cases: directories


def _dir(ctx: Ctx) -> Path:
    d = ctx.tmp / "corpus" / "S"
    d.mkdir(parents=True)
    (d / "a1.txt").write_text(GOOD, encoding="utf-8")
    return ctx.tmp / "corpus"


def c_dangling_symlink(ctx: Ctx) -> str:
    root = _dir(ctx)
    (root / "S" / "gone.txt").symlink_to(ctx.tmp / "nowhere.txt")
    proc = ctx.score(root)
    return outcome(proc, lambda: any("gone" in (s["where"] + s["reason"]) for s in skipped(ctx)))


def c_symlinked_directory(ctx: Ctx) -> str:
    root = _dir(ctx)
    other = ctx.tmp / "elsewhere"
    other.mkdir()
    (other / "x.txt").write_text(GOOD, encoding="utf-8")
    (root / "linked").symlink_to(other, target_is_directory=True)
    proc = ctx.score(root)
    return outcome(proc, lambda: not any(r["article_id"].split("/")[-1] == "x" for r in records(ctx.tmp / "out.jsonl"))
                   and any("linked" in (s["where"] + s["reason"]) for s in skipped(ctx)))


def c_file_symlink_outside_root(ctx: Ctx) -> str:
    root = _dir(ctx)
    secret = ctx.tmp / "secret.txt"
    secret.write_text("The secret password of the machine is hunter2 and nobody should read it.", encoding="utf-8")
    (root / "S" / "leak.txt").symlink_to(secret)
    proc = ctx.score(root)
    return outcome(proc, lambda: not any("hunter2" in r["text"] for r in records(ctx.tmp / "out.jsonl"))
                   and any("leak" in (s["where"] + s["reason"]) for s in skipped(ctx)))


def c_manifest_outside_root(ctx: Ctx) -> str:
    root = _dir(ctx)
    (ctx.tmp / "outside.txt").write_text(GOOD, encoding="utf-8")
    m = arts(ctx.tmp / "manifest.jsonl", [{"file": "S/a1.txt", "id": "a1", "source": "S"},
                                          {"file": "../outside.txt", "id": "out", "source": "S"}])
    proc = ctx.score(root, "--manifest", m)
    return outcome(proc, lambda: "out" not in {r["article_id"] for r in records(ctx.tmp / "out.jsonl")}
                   and any("outside" in (s["where"] + s["reason"]) for s in skipped(ctx)))


# --------------------------------------------------------------------------- cases: sizes


def c_long_line_score(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [{"id": "long", "source": "S", "text": "The talks went on and on " * 8000}])
    return outcome(ctx.score(p, timeout=25))


def c_long_line_build(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [{"id": "huge", "source": "S", "text": "The talks went on and on. " * 200_000},
                                   *(good(i) for i in range(3))])
    proc = ctx.run("build", "data=corpus", f"data.corpora.main.path={p}", f"hydra.run.dir={ctx.tmp / 'b'}", timeout=60)
    return outcome(proc)


# --------------------------------------------------------------------------- cases: ids, outputs, runs


def c_duplicate_ids_raise(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1), good(1)])
    proc = ctx.score(p, "--on-error", "raise")
    return outcome(proc, lambda: False)


def c_duplicate_ids_skip_report(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1), good(2), good(1)])
    proc = ctx.score(p)
    return outcome(proc, lambda: any(str(p) in s["where"] and s["where"].endswith(":3") for s in skipped(ctx)))


def c_concurrent_writers(ctx: Ctx) -> str:
    a = arts(ctx.tmp / "a.jsonl", [{**good(i), "id": f"x{i}"} for i in range(400)])
    b = arts(ctx.tmp / "b.jsonl", [{**good(i), "id": f"y{i}"} for i in range(400)])
    code = ("import sys; from stance.cli.score import main; sys.argv = ['stance-score', *sys.argv[1:]]; main()")
    procs = [subprocess.Popen([sys.executable, "-c", code, "--model", str(ctx.tfidf), "--input", str(x), "--output",
                               str(ctx.tmp / "same.jsonl"), "--no-progress", "--chunk-articles", "10"],
                              cwd=ctx.tmp, env=ctx.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for x in (a, b)]
    outs = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    ids = {r["article_id"][0] for r in records(ctx.tmp / "same.jsonl")}
    crashed = any("Traceback" in o + e for _, o, e in outs)
    refused = sorted(code for code, *_ in outs) == [0, 2]
    if crashed:
        return "crash"
    return "refused" if refused and len(ids) == 1 else "silent"


def c_sidecar_clash(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1)])
    q = arts(ctx.tmp / "b.jsonl", [good(2)])
    first = ctx.score(p, out="X.jsonl")
    second = ctx.score(q, out="X.parquet")
    if "Traceback" in first.stderr + second.stderr:
        return "crash"
    infos = [json.loads(f.read_text()) for f in ctx.tmp.glob("X*run.json")]
    return "handled" if len(infos) == 2 else "silent"


def c_disk_full(ctx: Ctx) -> str:
    import resource

    p = arts(ctx.tmp / "a.jsonl", [{**good(i), "id": f"x{i}"} for i in range(300)])

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    code = "import sys; from stance.cli.score import main; sys.argv = ['stance-score', *sys.argv[1:]]; main()"
    proc = subprocess.run([sys.executable, "-c", code, "--model", str(ctx.tfidf), "--input", str(p), "--output",
                           str(ctx.tmp / "out.jsonl"), "--no-progress", "--chunk-articles", "20"], cwd=ctx.tmp,
                          env=ctx.env(), capture_output=True, text=True, preexec_fn=limit, timeout=120)
    return outcome(proc, lambda: False)


def c_output_under_a_file(ctx: Ctx) -> str:
    (ctx.tmp / "afile").write_text("x")
    p = arts(ctx.tmp / "a.jsonl", [good(1)])
    return outcome(ctx.score(p, out="afile/out.jsonl"), lambda: False)


def c_sigterm_resumes(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [{**good(i), "id": f"x{i}"} for i in range(3000)])
    code = "import sys; from stance.cli.score import main; sys.argv = ['stance-score', *sys.argv[1:]]; main()"
    args = [sys.executable, "-c", code, "--model", str(ctx.tfidf), "--input", str(p), "--output",
            str(ctx.tmp / "out.jsonl"), "--no-progress", "--chunk-articles", "50"]
    proc = subprocess.Popen(args, cwd=ctx.tmp, env=ctx.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list((ctx.tmp).glob("out.jsonl.parts/part-000003*")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    again = subprocess.run(args, cwd=ctx.tmp, env=ctx.env(), capture_output=True, text=True, timeout=300)
    if "Traceback" in err + again.stderr:
        return "crash"
    ids = [r["article_id"] for r in records(ctx.tmp / "out.jsonl")]
    return "handled" if again.returncode == 0 and len(ids) == 3000 * 2 and len(set(ids)) == 3000 else "silent"


def c_identical_retrain_resumes(ctx: Ctx) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1)])
    ctx.score(p)
    again = ctx.run("train", "model=tfidf", f"data.corpora.synthetic.path={ROOT / 'tests/fixtures/mini_articles.jsonl'}",
                    "trainer.n_boot=20", f"hydra.run.dir={ctx.tmp / 'retrained'}")
    if again.returncode != 0:
        return "crash"
    q = arts(ctx.tmp / "b.jsonl", [good(1), good(2)])
    proc = ctx.score(q, model=ctx.tmp / "retrained" / "model")
    return outcome(proc, lambda: {r["article_id"] for r in records(ctx.tmp / "out.jsonl")} == {"a1", "a2"})


# --------------------------------------------------------------------------- cases: model directories


def _model_copy(ctx: Ctx, src: Path | None = None) -> Path:
    dst = ctx.tmp / "model"
    shutil.copytree(src or ctx.tfidf, dst)
    return dst


def _manifest(d: Path, edit: Callable[[dict], object]) -> None:
    m = json.loads((d / "manifest.json").read_text())
    out = edit(m)
    (d / "manifest.json").write_text(json.dumps(m if out is None else out))


def _score_model(ctx: Ctx, model: Path) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1)])
    return outcome(ctx.score(p, model=model), lambda: False)


def c_model_unknown_param(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    _manifest(d, lambda m: m["params"].update(frobnicate=3))
    return _score_model(ctx, d)


def c_model_wrong_param_type(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    _manifest(d, lambda m: m["params"].update(word_ngram_range="12"))
    return _score_model(ctx, d)


def c_manifest_json_string(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    (d / "manifest.json").write_text(json.dumps("just a string"))
    return _score_model(ctx, d)


def c_manifest_deeply_nested(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    (d / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    return _score_model(ctx, d)


def c_manifest_not_utf8(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    (d / "manifest.json").write_bytes((d / "manifest.json").read_bytes().replace(b'"tfidf"', b'"tf\xff\xfeidf"'))
    return _score_model(ctx, d)


def c_truncated_npy(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    f = d / "coef.npy"
    f.write_bytes(f.read_bytes()[:200])
    return _score_model(ctx, d)


def c_short_idf(ctx: Ctx) -> str:
    import numpy as np

    d = _model_copy(ctx)
    idf = np.load(d / "word_idf.npy")
    np.save(d / "word_idf.npy", idf[:5])
    return _score_model(ctx, d)


def c_vocab_index_out_of_range(ctx: Ctx) -> str:
    d = _model_copy(ctx)
    vocab = json.loads((d / "word_vocabulary.json").read_text())
    vocab[next(iter(vocab))] = 10_000_000
    (d / "word_vocabulary.json").write_text(json.dumps(vocab))
    return _score_model(ctx, d)


def c_nan_coefficients(ctx: Ctx) -> str:
    import numpy as np

    d = _model_copy(ctx)
    coef = np.load(d / "coef.npy")
    coef[0, :10] = np.nan
    np.save(d / "coef.npy", coef)
    return _score_model(ctx, d)


def c_permuted_labels(ctx: Ctx) -> str:
    d = _model_copy(ctx)

    def permute(m: dict) -> None:
        m["labels"] = m["labels"][::-1]
        if isinstance(m.get("scheme"), dict):
            m["scheme"]["labels"] = m["scheme"]["labels"][::-1]
    _manifest(d, permute)
    return _score_model(ctx, d)


def c_nan_temperature(ctx: Ctx) -> str:
    d = _model_copy(ctx, ctx.tiny)
    _manifest(d, lambda m: m["metadata"].update(temperature=float("nan")))
    return _score_model(ctx, d)


def c_negative_temperature(ctx: Ctx) -> str:
    d = _model_copy(ctx, ctx.tiny)
    _manifest(d, lambda m: m["metadata"].update(temperature=-2.0))
    return _score_model(ctx, d)


def _onnx_cache_case(ctx: Ctx, tamper: Callable[[Path], None]) -> str:
    p = arts(ctx.tmp / "a.jsonl", [good(1), {"id": "k", "source": "S", "text": "The Islamic Emirate condemned the "
                                                                              "Pakistani air strikes on civilians."}])
    first = ctx.score(p, "--fast", "onnx-int8", "--fallback-margin", "0", model=ctx.tiny, out="o1.jsonl")
    if first.returncode != 0:
        return "crash"
    onnx = list((ctx.tmp / "cache").rglob("model.int8.onnx"))
    if not onnx:
        return "crash"
    tamper(onnx[0])
    second = ctx.score(p, "--fast", "onnx-int8", "--fallback-margin", "0", model=ctx.tiny, out="o2.jsonl")
    a = [r["label"] for r in records(ctx.tmp / "o1.jsonl")]
    return outcome(second, lambda: [r["label"] for r in records(ctx.tmp / "o2.jsonl")] == a)


def c_onnx_cache_swapped(ctx: Ctx) -> str:
    def swap(f: Path) -> None:
        import onnx
        from onnx import helper

        m = onnx.load(str(f))
        graph = m.graph
        out = graph.output[0].name
        # replace the graph's output with a constant "always the second class" output
        k = 3
        const = helper.make_node("Constant", [], ["forced"], value=helper.make_tensor("v", 1, [1, k], [0.0, 9.0, 0.0]))
        shape = helper.make_node("Shape", [graph.input[0].name], ["shp"])
        first = helper.make_node("Slice", ["shp", "s0", "s1"], ["bdim"])
        graph.initializer.extend([helper.make_tensor("s0", 7, [1], [0]), helper.make_tensor("s1", 7, [1], [1]),
                                  helper.make_tensor("kk", 7, [1], [k])])
        cat = helper.make_node("Concat", ["bdim", "kk"], ["tshape"], axis=0)
        expand = helper.make_node("Expand", ["forced", "tshape"], ["forced_b"])
        for node in graph.node:
            node.output[:] = [o if o != out else "orig_logits" for o in node.output]
        ident = helper.make_node("Identity", ["forced_b"], [out])
        graph.node.extend([const, shape, first, cat, expand, ident])
        onnx.save(m, str(f))
    return _onnx_cache_case(ctx, swap)


def c_onnx_cache_truncated(ctx: Ctx) -> str:
    return _onnx_cache_case(ctx, lambda f: f.write_bytes(f.read_bytes()[:1000]))


# --------------------------------------------------------------------------- cases: comparisons


def _run_copy(ctx: Ctx, src: Path, name: str) -> Path:
    dst = ctx.tmp / name
    shutil.copytree(src, dst)
    return dst


def c_compare_flipped_gold(ctx: Ctx) -> str:
    import pandas as pd

    a = _run_copy(ctx, ctx.tfidf.parent, "ra")
    b = _run_copy(ctx, ctx.tfidf.parent, "rb")
    pred = pd.read_parquet(b / "predictions_test.parquet")
    labels = sorted(set(pred["label"]))
    pred.loc[pred.index[:40], "label"] = [labels[(labels.index(x) + 1) % len(labels)] for x in pred["label"][:40]]
    pred.to_parquet(b / "predictions_test.parquet", index=False)
    return outcome(ctx.run("compare", a, b), lambda: False)


def c_compare_symmetric(ctx: Ctx) -> str:
    a = ctx.tfidf.parent
    b = ctx.tiny.parent
    ab = ctx.run("compare", a, b, "--json", ctx.tmp / "ab.json")
    ba = ctx.run("compare", b, a, "--json", ctx.tmp / "ba.json")
    if "Traceback" in ab.stderr + ba.stderr:
        return "crash"

    def diffs(p: Path) -> list[float]:
        data = json.loads(p.read_text())
        return sorted(abs(pr["diff"]["estimate"]) for pr in data["pairs"])
    return "handled" if diffs(ctx.tmp / "ab.json") == diffs(ctx.tmp / "ba.json") and \
        {pr["a"] for pr in json.loads((ctx.tmp / "ab.json").read_text())["pairs"]} == \
        {pr["a"] for pr in json.loads((ctx.tmp / "ba.json").read_text())["pairs"]} else "silent"


def c_evaluate_superset_labels(ctx: Ctx) -> str:
    import pandas as pd

    ds = _run_copy(ctx, ctx.tfidf.parent / "dataset", "ds")
    df = pd.read_parquet(ds / "sentences.parquet")
    keep = sorted(set(df["label"].dropna()))[:2]
    df = df[df["label"].isin(keep) | df["label"].isna()]
    df.to_parquet(ds / "sentences.parquet", index=False)
    report = json.loads((ds / "build_report.json").read_text())
    report["labels"] = keep
    if isinstance(report.get("scheme"), dict):
        report["scheme"] = {**report["scheme"], "labels": keep, "poles": None, "none_label": None,
                            "sides": {}, "actors": []}
    (ds / "build_report.json").write_text(json.dumps(report))
    return outcome(ctx.run("evaluate", "--model", ctx.tfidf, "--dataset", ds, "--output", ctx.tmp / "ev"),
                   lambda: False)


CASES: dict[str, Callable[[Ctx], str]] = {
    name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("c_") and callable(fn)
}


def _models(tree: Path, where: Path) -> tuple[Path, Path]:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    mini = ROOT / "tests" / "fixtures" / "mini_articles.jsonl"
    code = "import sys; from stance.cli.train import main; sys.argv = ['stance-train', *sys.argv[1:]]; main()"
    for name in ("tfidf", "tiny"):
        if not (where / name / "model" / "manifest.json").is_file():
            subprocess.run([sys.executable, "-c", code, f"model={name}", f"data.corpora.synthetic.path={mini}",
                            "trainer.n_boot=20", f"hydra.run.dir={where / name}"], cwd=tree, env=env, check=True,
                           capture_output=True)
    return where / "tfidf" / "model", where / "tiny" / "model"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout to test (default: this one)")
    ap.add_argument("--only", nargs="*", help="case names")
    ap.add_argument("--keep", type=Path, default=None, help="keep the case folders here")
    args = ap.parse_args()
    base = Path(args.keep or tempfile.mkdtemp(prefix="stance-hostile-"))
    base.mkdir(parents=True, exist_ok=True)
    tfidf, tiny = _models(args.tree.resolve(), base / "models")
    results: dict[str, str] = {}
    for name, fn in CASES.items():
        if args.only and name not in args.only:
            continue
        tmp = base / name
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            results[name] = fn(Ctx(args.tree.resolve(), tmp, tfidf, tiny))
        except Exception as e:  # noqa: BLE001 - the harness itself must report, not stop
            results[name] = f"harness error: {type(e).__name__}: {e}"
        print(f"{name:32} {results[name]:10} {time.perf_counter() - t0:6.1f}s", flush=True)
    counts = Counter(v if v in ("refused", "handled", "crash", "silent", "hang") else "harness" for v in results.values())
    print("\n" + " ".join(f"{k}={counts.get(k, 0)}" for k in ("refused", "handled", "crash", "silent", "hang", "harness"))
          + f"  ({len(results)} cases, tree {args.tree})")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
