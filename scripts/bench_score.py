"""Benchmark batch scoring: sentences/second and peak RSS per method, on the same sentences.

    python scripts/bench_score.py --model-tfidf RUN_TFIDF/model --model-transformer RUN_TR/model
    python scripts/bench_score.py --model-transformer RUN_TR/model --rss-100k

Sentences: the bundled sample (data/sample/synthetic/articles.jsonl and the seed articles),
cleaned and split with the package's default cleaner and segmenter, cycled in order until
``--n`` sentences (the sample has about 1,080; the table says how many are distinct).

Methods (each measured in its own fresh Python process, so that the peak RSS reported -
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process - belongs to that method only;
throughput is the best of ``--repeats`` timed passes after one warm-up pass on 64 sentences):

* ``sklearn``: a plain scikit-learn ``Pipeline.predict`` reference, built with
  ``TfidfClassifier.sklearn_pipeline()`` and fitted on the TF-IDF model's training split;
* ``tfidf-plain``: ``TfidfClassifier.predict_proba`` alone (the fast n-gram counts live in the
  model, so this is the Python API's speed; ``tfidf`` adds the scoring loop);
* ``tfidf``: ``stance-score --level sentence --no-attribution``'s code path
  (``accelerate`` -> the model itself -> ``score_sentences``);
* ``tfidf+attr``: the same with reported-speech attribution (the CLI default);
* ``hf-pipeline``: ``transformers.pipeline("text-classification")`` on the saved weights with
  default settings (the reference for the transformer rows);
* ``fp32``: the transformer through ``stance-score``'s code path (``score_sentences`` on the
  loaded ``TransformerClassifier``: length-sorted batches, inference mode);
* ``onnx-int8`` / ``bf16``: the fast paths (``--fast``), with label agreement against fp32 on
  the sample's test split and on the benchmark sentences.

It also measures this machine's fp32 matmul throughput (torch, 2048x2048 matrices, same
thread count) and prints the fraction of it achieved by each transformer path, with
FLOPs per sentence = 2 x (parameters outside the embedding tables) x tokens + the attention
products 4 x layers x hidden x tokens^2, averaged over the benchmark sentences' token counts
(unpadded, after truncation) - i.e. the useful work, not the work spent on padding.

``--engine ray --workers 1,2`` instead compares local scoring with distributed scoring on Ray
Data (:func:`stance.scoring.distributed.score_dataset_ray`) on the same ``--ray-n`` sentences
(default 20,000; a JSONL file of sentence records, ``--level sentence``, TF-IDF model): each
row is one fresh process that reads the file, scores it and writes the output (Parquet), and
the table gives the wall time, sentences/s, the time to start the local Ray runtime, and the
Ray overhead (wall time beyond the local run's, with 1 worker).

``--rss-100k`` instead scores 100,000 sentences through the streaming writer
(``score_to_file``) with the fast path (ONNX int8 when a transformer is given, else TF-IDF)
and prints the peak RSS (takes a few minutes on 2 cores).

``--rss-scaling`` checks that ``stance-score`` streams: it writes synthetic article corpora of
``--rss-sizes`` sentences (default 10k, 100k, 1M; 20 sample sentences per article, seven
fictional outlets) to disk as JSONL, one line at a time, then runs the real CLI
(``python -m stance.cli.score --model M --input corpus.jsonl --output scores.parquet``, default
article level with cleaning, segmentation and attribution) on each in a fresh process, and
prints that process's peak RSS (``ru_maxrss`` from ``os.wait4``), its wall time and the
scoring rate it recorded in ``run.json``, plus the ratio of each peak RSS to the smallest
size's (the requirement: within 1.3x at 1M). With ``--model-transformer`` it adds
``--fast onnx-int8`` rows at ``--rss-sizes-transformer`` (default 10k, 100k)::

    python scripts/bench_score.py --rss-scaling --model-tfidf RUN_TFIDF/model
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT = "BENCH_RESULT "


# --------------------------------------------------------------------------- data


def sample_sentences() -> list[str]:
    """Body sentences of the bundled sample, split with the package's cleaner/segmenter."""
    from stance.data.build import sentences_of
    from stance.data.cleaning import Cleaner
    from stance.data.readers import read_directory, read_table
    from stance.data.segment import Segmenter
    from stance.resources import sample_dir

    root = sample_dir()
    articles = read_table(root / "synthetic" / "articles.jsonl").articles
    articles += read_directory(root / "seeds", manifest=root / "seeds" / "manifest.jsonl").articles
    cleaner, segmenter = Cleaner(), Segmenter()
    return [s.text for a in articles for s in sentences_of(a, cleaner, segmenter, None).sentences]


def test_split_texts(model_dir: Path) -> list[str]:
    """The test split of the dataset the model was trained on (RUN_DIR/dataset)."""
    import pandas as pd

    path = model_dir.parent / "dataset" / "sentences.parquet"
    if not path.is_file():
        return []
    df = pd.read_parquet(path)
    df = df[(df["split"] == "test") & df["label"].notna() & df["duplicate_of"].isna()]
    return df["text"].tolist()


def train_split(model_dir: Path) -> tuple[list[str], list[str]]:
    import pandas as pd

    path = model_dir.parent / "dataset" / "sentences.parquet"
    if not path.is_file():
        raise SystemExit(f"{path} not found: give a model saved by stance-train (RUN_DIR/model)")
    df = pd.read_parquet(path)
    df = df[(df["split"] == "train") & df["label"].notna() & df["duplicate_of"].isna()]
    return df["text"].tolist(), df["label"].tolist()


# --------------------------------------------------------------------------- worker side


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _time_it(fn: Any, texts: list[str], repeats: int) -> dict[str, Any]:
    fn(texts[:64])  # warm-up (allocations, one-off initialisation)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
    return {"sent_per_s": max(rates), "sent_per_s_median": statistics.median(rates), "all": rates}


def _flops_per_sentence(model: Any, texts: list[str]) -> dict[str, Any]:
    from stance.scoring.fast_export import hf_parts

    parts = hf_parts(model)
    net, tok = parts["model"], parts["tokenizer"]
    embed = sum(p.numel() for n, p in net.named_parameters() if "embeddings" in n)
    total = sum(p.numel() for p in net.parameters())
    lengths = [len(x) for x in tok(texts, truncation=True, max_length=parts["max_length"])["input_ids"]]
    cfg = net.config
    layers, hidden = int(cfg.num_hidden_layers), int(cfg.hidden_size)
    mean_l = statistics.fmean(lengths)
    mean_l2 = statistics.fmean(n * n for n in lengths)
    flops = 2 * (total - embed) * mean_l + 4 * layers * hidden * mean_l2
    return {"flops_per_sentence": flops, "params": total, "params_non_embedding": total - embed,
            "mean_tokens": mean_l}


def _bench_matmul(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    """The machine's float32 matmul throughput (the reference for the FLOP estimates)."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        best = max(best, 10 * 2 * 2048**3 / (time.perf_counter() - t0))
    return {"gflops": best / 1e9}


def _bench_sklearn(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    import stance

    model = stance.load_model(args.model_tfidf)
    x, y = train_split(Path(args.model_tfidf))
    pipe = model.sklearn_pipeline().fit(x, y)
    return _time_it(pipe.predict, texts, args.repeats)


def _bench_tfidf_plain(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    import stance

    model = stance.load_model(args.model_tfidf)
    return _time_it(model.predict_proba, texts, args.repeats)


def _bench_tfidf(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    import stance
    from stance.scoring.fast import accelerate
    from stance.scoring.score import score_sentences

    model = stance.load_model(args.model_tfidf)
    attributor = None if method == "tfidf+attr" else False

    def run(ts: list[str]) -> None:
        predictor = accelerate(model)  # fresh word cache for every timed pass
        recs = ({"id": str(i), "text": t} for i, t in enumerate(ts))
        for _ in score_sentences(predictor, recs, batch_size=args.batch_size, attributor=attributor):
            pass

    return _time_it(run, texts, args.repeats)


def _bench_hf_pipeline(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    from transformers import logging as hf_logging
    from transformers import pipeline

    hf_logging.set_verbosity_error()
    weights = str(Path(args.model_transformer) / "weights")
    pipe = pipeline("text-classification", model=weights, tokenizer=weights)
    return _time_it(lambda ts: pipe(ts), texts, args.repeats)


def _bench_transformer(method: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    """fp32 / onnx-int8 / bf16 through ``score_sentences``, with the fast paths' parity."""
    import stance
    from stance.scoring.fast import accelerate, parity
    from stance.scoring.score import score_sentences

    threads = args.threads
    out: dict[str, Any] = {}
    model = stance.load_model(args.model_transformer)
    if hasattr(model, "progress"):
        model.progress = False
    t0 = time.perf_counter()
    predictor = accelerate(model, "none" if method == "fp32" else method, threads=threads,
                           cache_dir=args.cache_dir)
    out["setup_s"] = time.perf_counter() - t0

    def run(ts: list[str]) -> None:
        recs = ({"id": str(i), "text": t} for i, t in enumerate(ts))
        for _ in score_sentences(predictor, recs, batch_size=args.batch_size, attributor=False):
            pass

    out.update(_time_it(run, texts, args.repeats))
    out.update(_flops_per_sentence(model, texts))
    if method != "fp32":
        out["fallback_share"] = predictor.n_fallback / max(predictor.n_scored, 1)
        test = test_split_texts(Path(args.model_transformer))
        pure = accelerate(model, method, threads=threads, cache_dir=args.cache_dir, fallback_margin=0)
        for name, pred in (("", predictor), ("_no_fallback", pure)):
            if test:
                out[f"parity_test_split{name}"] = parity(model, pred, test)
            out[f"parity_bench{name}"] = parity(model, pred, texts)
    return out


_METHODS: dict[str, Any] = {
    "matmul": _bench_matmul,
    "sklearn": _bench_sklearn,
    "tfidf-plain": _bench_tfidf_plain,
    "tfidf": _bench_tfidf,
    "tfidf+attr": _bench_tfidf,
    "hf-pipeline": _bench_hf_pipeline,
    "fp32": _bench_transformer,
    "onnx-int8": _bench_transformer,
    "bf16": _bench_transformer,
}
"""Benchmark method -> ``fn(method, args, texts)`` returning its result fields."""


def worker(method: str, args: argparse.Namespace) -> dict[str, Any]:
    texts: list[str] = json.loads(Path(args.texts_file).read_text())
    threads = args.threads
    out: dict[str, Any] = {"method": method}
    if method in ("matmul",) or method not in ("sklearn", "tfidf-plain", "tfidf", "tfidf+attr"):
        import torch

        torch.set_num_threads(threads)
    bench = _METHODS.get(method)
    if bench is None:
        raise SystemExit(f"unknown method {method}")
    out.update(bench(method, args, texts))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def rss_100k(args: argparse.Namespace) -> dict[str, Any]:
    """Score 100,000 sentences through the streaming writer; peak RSS of this process."""
    import stance
    from stance.scoring.fast import accelerate
    from stance.scoring.to_file import score_to_file

    texts: list[str] = json.loads(Path(args.texts_file).read_text())
    if args.model_transformer:
        import torch

        torch.set_num_threads(args.threads)
        model_dir, fast = args.model_transformer, args.rss_fast
    else:
        model_dir, fast = args.model_tfidf, "none"
    model = stance.load_model(model_dir)
    if hasattr(model, "progress"):
        model.progress = False
    predictor = accelerate(model, fast, threads=args.threads, cache_dir=args.cache_dir)
    n = args.rss_n
    records = ({"id": f"s{i}", "text": t, "source": f"src{i % 7}", "article_id": f"a{i // 20}"}
               for i, t in zip(range(n), itertools.cycle(texts)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.parquet"
        t0 = time.perf_counter()
        run = score_to_file(model, records, out, predictor=predictor, level="sentence",
                            chunk_size=2000, batch_size=args.batch_size, model_dir=model_dir, fast=fast)
        wall = time.perf_counter() - t0
        size = out.stat().st_size
    return {"method": f"rss-100k ({model.kind}, fast={fast})", "sentences": run.totals["sentences"],
            "wall_s": wall, "sent_per_s": n / wall, "output_mb": size / 2**20,
            "peak_rss_mb": _peak_rss_mb()}


# --------------------------------------------------------------------------- RSS scaling

OUTLETS = ("Harbor Ledger", "Valley Courier", "North Gazette", "Plains Herald", "Coast Bulletin",
           "Ridge Observer", "Delta Tribune")
"""Fictional outlets of the synthetic scaling corpora."""


def write_scaling_corpus(path: Path, n_sentences: int, pool: list[str], per_article: int = 20) -> int:
    """Write ``n_sentences / per_article`` articles to ``path`` (JSONL), one line at a time; each
    article is ``per_article`` consecutive sentences of ``pool`` (cycled, each article starting
    a different offset), in paragraphs of one to four sentences. Returns the article count."""
    n_articles = max(1, n_sentences // per_article)
    with open(path, "w", encoding="utf-8") as fh:
        for a in range(n_articles):
            start = (a * 37) % len(pool)
            sents = [pool[(start + j) % len(pool)] for j in range(per_article)]
            paras, j = [], 0
            while j < len(sents):
                size = 1 + (a + j) % 4
                paras.append(" ".join(sents[j:j + size]))
                j += size
            fh.write(json.dumps({"id": f"art-{a:07d}", "source": OUTLETS[a % len(OUTLETS)],
                                 "title": f"Report {a}", "text": "\n\n".join(paras)}, ensure_ascii=False))
            fh.write("\n")
    return n_articles


def _run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``cmd``; (exit status, peak RSS MB of that process, wall seconds, output tail)."""
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        tail = log.read()[-3000:]
    return proc.returncode, usage.ru_maxrss / 1024.0, wall, tail


def rss_scaling(args: argparse.Namespace) -> None:
    """Peak RSS and speed of ``stance-score`` at growing corpus sizes (see the module doc)."""
    pool = sample_sentences()
    sizes = [int(x) for x in args.rss_sizes.split(",")]
    cases = [("tfidf", args.model_tfidf, "none", n) for n in sizes] if args.model_tfidf else []
    if args.model_transformer:
        cases += [("transformer", args.model_transformer, "onnx-int8", int(n))
                  for n in args.rss_sizes_transformer.split(",")]
    if not cases:
        raise SystemExit("give --model-tfidf and/or --model-transformer")
    work = Path(args.rss_dir or tempfile.mkdtemp(prefix="stance-rss-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    for kind, model_dir, fast, n in cases:
        corpus = work / f"corpus-{n}.jsonl"
        if not corpus.exists():
            print(f"... writing {corpus}", file=sys.stderr, flush=True)
            write_scaling_corpus(corpus, n, pool)
        out = work / f"scores-{kind}-{n}.parquet"
        cmd = [sys.executable, "-m", "stance.cli.score", "--model", str(model_dir), "--input", str(corpus),
               "--output", str(out), "--overwrite", "--no-progress", "--fast", fast,
               "--batch-size", str(args.batch_size)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"... {kind} {fast} {n:,} sentences", file=sys.stderr, flush=True)
        rc, rss, wall, tail = _run_measured(cmd, env)
        if rc != 0:
            sys.stderr.write(tail)
            rows.append({"kind": kind, "fast": fast, "n": n, "error": f"exit {rc}"})
            continue
        run = json.loads(out.with_name(out.name + ".run.json").read_text())
        last = run["last_run"]
        rows.append({"kind": kind, "fast": fast, "n": n, "articles": last["articles"],
                     "sentences": last["sentences"], "peak_rss_mb": rss, "wall_s": wall,
                     "sent_per_s_scoring": last["sentences_per_second"],
                     "sent_per_s_wall": last["sentences"] / wall})
        if not args.rss_keep:
            for f in out.parent.glob(out.name + "*"):
                f.unlink()
    print_rss_table(rows, load_before)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if not args.rss_keep and not args.rss_dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def print_rss_table(rows: list[dict[str, Any]], load_before: str) -> None:
    head = (f"{'model':12s} {'fast':10s} {'nominal':>9s} {'articles':>9s} {'sentences':>10s} "
            f"{'peak RSS MB':>12s} {'x smallest':>10s} {'wall s':>8s} {'sent/s scoring':>15s} {'sent/s wall':>12s}")
    print(head)
    print("-" * len(head))
    base: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r["kind"], r["fast"])
        if "error" in r:
            print(f"{r['kind']:12s} {r['fast']:10s} {r['n']:9,d} ERROR {r['error']}")
            continue
        base.setdefault(key, r["peak_rss_mb"])
        print(f"{r['kind']:12s} {r['fast']:10s} {r['n']:9,d} {r['articles']:9,d} {r['sentences']:10,d} "
              f"{r['peak_rss_mb']:12.0f} {r['peak_rss_mb'] / base[key]:10.2f} {r['wall_s']:8.0f} "
              f"{r['sent_per_s_scoring']:15,.0f} {r['sent_per_s_wall']:12,.0f}")
    print(f"stance-score --level article (cleaning, segmentation, attribution), --output .parquet, "
          f"each size in a fresh process; peak RSS = ru_maxrss of that process (os.wait4); "
          f"load average before {load_before}, after {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (a shared machine: rates vary with the other processes)")


def ray_worker(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """One row of the Ray comparison: ``ray:local`` (score_to_file, this process) or
    ``ray:W`` (score_dataset_ray with W actors on a local runtime of W+1 CPUs)."""
    from stance.scoring.records import read_records

    kind = spec.split(":", 1)[1]
    data = Path(args.texts_file)
    out_dir = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    out = out_dir / "scores.parquet"
    res: dict[str, Any] = {"method": spec}
    if kind == "local":
        import stance
        from stance.cli.score import _sentence_items
        from stance.data.readers import ReadResult
        from stance.scoring.to_file import score_to_file

        t0 = time.perf_counter()
        model = stance.load_model(args.model_tfidf)
        run = score_to_file(model, _sentence_items(data, "skip", ReadResult(), None), out, level="sentence",
                            chunk_size=2000, batch_size=args.batch_size, model_dir=args.model_tfidf)
        res["wall_s"] = time.perf_counter() - t0
        res["startup_s"] = 0.0
    else:
        import ray

        from stance.scoring.distributed import score_dataset_ray

        workers = int(kind)
        t0 = time.perf_counter()
        ray.init(num_cpus=workers + 1, include_dashboard=False, logging_level="WARNING")
        res["startup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = score_dataset_ray(args.model_tfidf, data, out, level="sentence", num_workers=workers,
                                chunk_size=2000, batch_size=args.batch_size)
        res["wall_s"] = time.perf_counter() - t0
        ray.shutdown()
    res["sentences"] = sum(1 for _ in read_records(out, ["sentence_id"]))
    res["scoring_s"] = run.stats.seconds  # summed over actors for Ray
    res["sent_per_s"] = res["sentences"] / res["wall_s"]
    res["peak_rss_mb"] = _peak_rss_mb()
    shutil.rmtree(out_dir, ignore_errors=True)
    return res


def ray_bench(args: argparse.Namespace) -> None:
    """``--engine ray``: local vs Ray Data with each of ``--workers`` on the same sentences."""
    if not args.model_tfidf:
        raise SystemExit("--engine ray needs --model-tfidf")
    sents = sample_sentences()
    texts = list(itertools.islice(itertools.cycle(sents), args.ray_n))
    workers = [int(w) for w in args.workers.split(",")]
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sentences.jsonl"
        with open(data, "w", encoding="utf-8") as fh:
            for i, t in enumerate(texts):
                fh.write(json.dumps({"id": f"s{i}", "text": t, "source": f"src{i % 7}",
                                     "article_id": f"a{i // 20}"}) + "\n")
        results = []
        for spec in ["ray:local", *(f"ray:{w}" for w in workers)]:
            print(f"... {spec}", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, "--worker", spec, "--texts-file", str(data),
                   "--model-tfidf", str(args.model_tfidf), "--batch-size", str(args.batch_size)]
            env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
            if proc.returncode != 0 or not lines:
                sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
                results.append({"method": spec, "error": f"exit {proc.returncode}"})
                continue
            results.append(json.loads(lines[-1][len(RESULT):]))
    local = next((r for r in results if r["method"] == "ray:local" and "error" not in r), None)
    head = (f"{'engine':22s} {'sentences':>9s} {'wall s':>7s} {'sent/s':>7s} {'x local':>8s} "
            f"{'scoring s':>10s} {'ray start s':>11s} {'overhead s':>11s} {'peak RSS MB':>12s}")
    print(head)
    print("-" * len(head))
    for r in results:
        name = "local (score_to_file)" if r["method"] == "ray:local" else f"ray, {r['method'][4:]} worker(s)"
        if "error" in r:
            print(f"{name:22s} ERROR {r['error']}")
            continue
        over = r["wall_s"] - local["wall_s"] if local else None
        speed = r["sent_per_s"] / local["sent_per_s"] if local else None
        print(f"{name:22s} {r['sentences']:9d} {r['wall_s']:7.1f} {r['sent_per_s']:7.0f} {_fmt(speed, '8.2f'):>8s} "
              f"{r['scoring_s']:10.1f} {r['startup_s']:11.1f} "
              f"{_fmt(over if r['method'] != 'ray:local' else None, '11.1f'):>11s} {r['peak_rss_mb']:12.0f}")
    print(f"\n{args.ray_n} sentences ({len(set(texts))} distinct sample sentences cycled), --level sentence, "
          f"TF-IDF {args.model_tfidf}; wall = read + score + write in a fresh process (Ray: runtime already "
          f"started, actors start inside); scoring s = time inside the scoring code, summed over actors; "
          f"overhead = wall - local wall.")
    print(f"machine: {os.cpu_count()} cores; load average before {load_before}, after "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results}, indent=2))


# --------------------------------------------------------------------------- driver side


def child(method: str, args: argparse.Namespace, texts_file: str) -> dict[str, Any]:
    tfidf = method in ("sklearn", "tfidf-plain", "tfidf", "tfidf+attr")
    cmd = [sys.executable, __file__, "--worker", method, "--texts-file", texts_file,
           "--threads", str(args.threads), "--repeats", str(args.repeats_tfidf if tfidf else args.repeats),
           "--batch-size", str(args.batch_size), "--rss-n", str(args.rss_n), "--rss-fast", args.rss_fast]
    for opt in ("model_tfidf", "model_transformer", "cache_dir"):
        if getattr(args, opt):
            cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        return {"method": method, "error": f"exit {proc.returncode}"}
    return json.loads(lines[-1][len(RESULT):])


def _fmt(x: Any, spec: str = ".0f") -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[dict[str, Any]], gflops: float | None, info: dict[str, Any]) -> None:
    by = {r["method"]: r for r in results}
    hf = by.get("hf-pipeline", {}).get("sent_per_s")
    sk = by.get("sklearn", {}).get("sent_per_s")
    names = {
        "sklearn": "sklearn Pipeline.predict (reference)",
        "tfidf-plain": "TfidfClassifier.predict_proba (plain)",
        "tfidf": "tfidf: stance-score path (no attribution)",
        "tfidf+attr": "tfidf: stance-score path + attribution",
        "hf-pipeline": "HF pipeline, defaults (reference)",
        "fp32": "transformer fp32: stance-score path",
        "onnx-int8": "transformer --fast onnx-int8",
        "bf16": "transformer --fast bf16",
    }
    head = f"{'method':44s} {'sent/s':>8s} {'median':>8s} {'peak RSS MB':>12s} {'x HF pipe':>10s} " \
           f"{'x sklearn':>10s} {'% matmul':>9s}"
    print(head)
    print("-" * len(head))
    for r in results:
        m = r["method"]
        if m == "matmul":
            continue
        if "error" in r:
            print(f"{names.get(m, m):44s} ERROR {r['error']}")
            continue
        rate = r["sent_per_s"]
        frac = None
        if gflops and r.get("flops_per_sentence"):
            frac = 100 * rate * r["flops_per_sentence"] / (gflops * 1e9)
        vs_hf = rate / hf if hf and m in ("hf-pipeline", "fp32", "onnx-int8", "bf16") else None
        vs_sk = rate / sk if sk and m in ("sklearn", "tfidf-plain", "tfidf", "tfidf+attr") else None
        print(f"{names.get(m, m):44s} {rate:8.0f} {r['sent_per_s_median']:8.0f} {r['peak_rss_mb']:12.0f} "
              f"{_fmt(vs_hf, '10.2f'):>10s} {_fmt(vs_sk, '10.2f'):>10s} {_fmt(frac, '8.1f'):>9s}")
    print()
    if gflops:
        print(f"fp32 matmul (torch, 2048x2048, {info['threads']} threads): {gflops:.1f} GFLOP/s")
    for r in results:
        if r.get("flops_per_sentence") and r["method"] == "fp32":
            print(f"FLOPs/sentence: 2 x {r['params_non_embedding']:,} non-embedding parameters x "
                  f"{r['mean_tokens']:.1f} mean tokens + attention 4*L*d*n^2 = "
                  f"{r['flops_per_sentence'] / 1e9:.3f} GFLOP")
    for r in results:
        if r["method"] in ("onnx-int8", "bf16") and "error" not in r:
            print(f"{r['method']}: setup {r['setup_s']:.1f}s (export/cast; cached exports load in "
                  f"seconds); {r['fallback_share']:.1%} of sentences re-scored with fp32 (top-2 margin "
                  "below the fallback margin)")
            for name, what in (("", "with fp32 fallback (default)"), ("_no_fallback", "pure, no fallback")):
                p, q = r.get(f"parity_test_split{name}"), r[f"parity_bench{name}"]
                msg = f"    label agreement with fp32, {what}: "
                if p:
                    msg += (f"{p['agreement']:.2%} on the sample test split (n={p['n']}, max |dp| "
                            f"{p['max_abs_proba_diff']:.3f}), ")
                msg += f"{q['agreement']:.2%} on the benchmark sentences (max |dp| {q['max_abs_proba_diff']:.3f})"
                print(msg)
    print(f"sentences: {info['n']} ({info['distinct']} distinct sample sentences cycled in order); "
          f"best of {info['repeats']} passes (TF-IDF rows: {info['repeats_tfidf']}); --batch-size {info['batch_size']}; threads {info['threads']}")
    print(f"machine: {info['cpu']}, {info['cores']} cores; load average before {info['load_before']}, "
          f"after {info['load_after']}")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-tfidf", default=None)
    ap.add_argument("--model-transformer", default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per transformer method")
    ap.add_argument("--repeats-tfidf", type=int, default=7, help="timed passes per TF-IDF method")
    ap.add_argument("--batch-size", type=int, default=1024,
                    help="sentences per model call in the stance paths (the CLI default)")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the methods")
    ap.add_argument("--no-bf16", action="store_true", help="skip the bf16 row")
    ap.add_argument("--cache-dir", default=None, help="ONNX export cache (default ~/.cache/stance/onnx)")
    ap.add_argument("--rss-100k", action="store_true", help="score 100,000 sentences through the writer")
    ap.add_argument("--rss-n", type=int, default=100_000)
    ap.add_argument("--rss-fast", default="onnx-int8", choices=("none", "onnx-int8", "bf16"))
    ap.add_argument("--rss-scaling", action="store_true",
                    help="peak RSS and speed of stance-score at --rss-sizes sentences, each in a fresh process")
    ap.add_argument("--rss-sizes", default="10000,100000,1000000", help="TF-IDF corpus sizes (sentences)")
    ap.add_argument("--rss-sizes-transformer", default="10000,100000",
                    help="onnx-int8 corpus sizes (sentences), with --model-transformer")
    ap.add_argument("--rss-dir", default=None, help="where the corpora and outputs go (default: a temp dir)")
    ap.add_argument("--rss-keep", action="store_true", help="keep the corpora and outputs")
    ap.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="ray: compare local scoring with Ray Data on --workers (needs --model-tfidf)")
    ap.add_argument("--workers", default="1,2", help="with --engine ray: comma-separated actor counts")
    ap.add_argument("--ray-n", type=int, default=20_000, help="with --engine ray: sentences to score")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--texts-file", default=None, help=argparse.SUPPRESS)
    return ap


def _machine_info(args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    """The run's settings, the CPU model and the load average before the benchmark."""
    info = {"n": len(texts), "distinct": len(set(texts)), "repeats": args.repeats,
            "repeats_tfidf": args.repeats_tfidf, "threads": args.threads,
            "batch_size": args.batch_size, "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def _methods(args: argparse.Namespace) -> list[str]:
    """The benchmark rows to run, in order (``matmul`` is always kept with a transformer)."""
    methods = []
    if args.model_tfidf:
        methods += ["sklearn", "tfidf-plain", "tfidf", "tfidf+attr"]
    if args.model_transformer:
        methods += ["matmul", "hf-pipeline", "fp32", "onnx-int8"] + ([] if args.no_bf16 else ["bf16"])
    if args.methods:
        keep = set(args.methods.split(","))
        methods = [m for m in methods if m in keep or m == "matmul"]
    return methods


def _print_rss_100k(r: dict[str, Any]) -> None:
    print(json.dumps(r, indent=2))
    if "peak_rss_mb" in r:
        print(f"{r['method']}: {r['sentences']} sentences in {r['wall_s']:.0f}s "
              f"({r['sent_per_s']:.0f} sent/s), peak RSS {r['peak_rss_mb']:.0f} MB")


def local_bench(args: argparse.Namespace) -> None:
    """Every method in a fresh child process on the same sentences; prints the table."""
    sents = sample_sentences()
    texts = list(itertools.islice(itertools.cycle(sents), max(args.n, 1)))
    info = _machine_info(args, texts)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts if not args.rss_100k else sents, fh)
        texts_file = fh.name
    try:
        if args.rss_100k:
            _print_rss_100k(child("rss-100k", args, texts_file))
            return
        results = []
        for m in _methods(args):
            print(f"... {m}", file=sys.stderr, flush=True)
            results.append(child(m, args, texts_file))
        info["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        gflops = next((r.get("gflops") for r in results if r["method"] == "matmul"), None)
        print_table(results, gflops, info)
        if args.json:
            Path(args.json).write_text(json.dumps({"info": info, "results": results}, indent=2))
    finally:
        os.unlink(texts_file)


def main() -> None:
    ap = _parser()
    args = ap.parse_args()

    if args.worker:
        if args.worker.startswith("ray:"):
            res = ray_worker(args.worker, args)
        else:
            res = rss_100k(args) if args.worker == "rss-100k" else worker(args.worker, args)
        print(RESULT + json.dumps(res))
        return
    if args.engine == "ray":
        sys.path.insert(0, str(REPO))
        ray_bench(args)
        return
    if not (args.model_tfidf or args.model_transformer):
        ap.error("give --model-tfidf and/or --model-transformer")

    sys.path.insert(0, str(REPO))
    if args.rss_scaling:
        rss_scaling(args)
        return
    local_bench(args)


if __name__ == "__main__":
    main()
