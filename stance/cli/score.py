"""``stance-score``: label every sentence of new articles with a saved classifier.

Examples::

    stance-score --model outputs/run/model --input articles.jsonl --output scores.parquet
    stance-score --model RUN/model --input sentences.csv --level sentence --output s.jsonl
    stance-score --model RUN/model --input corpus/ --output scores.jsonl \\
        --fast onnx-int8 --threads 2 --parity-check RUN/dataset

Writes the sentence records to ``--output`` (JSONL or Parquet by extension), plus
``<output>.articles.<ext>`` (per-article counts and slant), ``<output>.sources.csv``
(per-source metrics) and ``<output>.run.json`` beside it (:mod:`stance.scoring.records`). A
run interrupted by Ctrl-C, SIGTERM or a full disk resumes where it stopped when the same
command is run again; a second run into the same output is refused while the first is alive.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from stance.cli.common import console, exit_on_user_error
from stance.errors import InputError, StanceError

PARITY_MIN = 0.99


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stance-score",
        description="Score new articles (or sentences) with a saved stance classifier.",
    )
    p.add_argument("--model", required=True, help="saved model directory (RUN_DIR/model)")
    p.add_argument("--input", required=True,
                   help="articles: a directory of .txt/.md/.html files or a JSONL/CSV/Parquet table "
                        "(id, text, source); sentences (--level sentence): a table with id, text "
                        "and optional source, article_id")
    p.add_argument("--output", required=True, help="output file: .jsonl or .parquet")
    p.add_argument("--level", choices=("article", "sentence"), default="article",
                   help="article: clean and split articles into sentences; sentence: score the "
                        "input records as they are (default: article)")
    p.add_argument("--format", choices=("auto", "jsonl", "parquet"), default="auto",
                   help="output format (default: from the --output extension)")
    p.add_argument("--batch-size", type=int, default=1024,
                   help="sentences per model call; transformers sort each call by length, so "
                        "larger calls mean less padding (default 1024)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch / onnxruntime (default: library default)")
    p.add_argument("--fast", choices=("none", "onnx-int8", "bf16"), default="none",
                   help="transformer fast path: onnx-int8 (ONNX, per-channel int8) or bf16 (default none)")
    p.add_argument("--fallback-margin", type=float, default=None,
                   help="with --fast: re-score with fp32 the sentences whose top-1 minus top-2 "
                        "probability is below this (default 0.2 for onnx-int8, 0.05 for bf16; 0 = never)")
    p.add_argument("--parity-check", metavar="DATASET_OR_SENTENCES_FILE", default=None,
                   help="before scoring, compare the fast path with fp32 on a stance-build dataset "
                        "folder (its test split) or a sentences file; stop if label agreement < "
                        "--parity-min")
    p.add_argument("--parity-min", type=float, default=PARITY_MIN,
                   help=f"minimum label agreement for --parity-check (default {PARITY_MIN})")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (also one written by another model)")
    p.add_argument("--chunk-articles", type=int, default=100,
                   help="articles per committed chunk: what an interruption can lose and what "
                        "memory holds (default 100; at --level sentence 20 times as many sentences)")
    p.add_argument("--on-error", choices=("skip", "raise"), default="skip",
                   help="bad input records: skip and report them (default) or stop at the first")
    p.add_argument("--default-source", default=None,
                   help="source for input records without one (default: such records are skipped)")
    p.add_argument("--manifest", default=None,
                   help="for a directory input: CSV/JSONL listing file, id, source, title, date")
    p.add_argument("--preprocessing", default=None, metavar="FILE",
                   help="YAML/JSON with cleaning / segmenter / attribution settings that replace the "
                        "model's own (default: the settings the model's training data were built with)")
    p.add_argument("--no-attribution", action="store_true",
                   help="skip reported-speech attribution (attributed=False, no speaker_side)")
    p.add_argument("--max-sentence-chars", type=int, default=None,
                   help="longer sentences are truncated (and counted) before scoring "
                        "(default: the model's segmenter limit, 2000 unless trained otherwise)")
    p.add_argument("--max-article-chars", type=int, default=None,
                   help="longer articles are truncated (and counted) before cleaning "
                        "(default: the model's cleaning limit, 200000 unless trained otherwise)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    ray = p.add_argument_group("distributed scoring (--engine ray; stance.scoring.distributed)")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process (default); ray: Ray Data actors, reading a Parquet/JSONL "
                          "file or folder, local or an fsspec URL (s3://, gs://...)")
    ray.add_argument("--ray-address", default=None,
                     help="Ray cluster to use: auto, HOST:PORT or ray://HEAD:10001 (default: start a local "
                          "Ray runtime)")
    ray.add_argument("--workers", type=int, default=2, help="actors in the scoring pool (default 2)")
    ray.add_argument("--worker-cpus", type=float, default=1.0, help="CPUs each actor reserves (default 1)")
    ray.add_argument("--worker-gpus", type=float, default=0.0, help="GPUs each actor reserves (default 0)")
    return p


# --------------------------------------------------------------------------- inputs


def _sentence_items(path: Path, on_error: str, result: Any, default_source: str | None) -> Iterator[dict]:
    """Sentence records (id, text, source, article_id, title) from a table, bad ones reported."""
    from stance.data.sentence_table import read_sentence_table

    for rec in read_sentence_table(path, labelled=False, default_source=default_source or "unknown",
                                   own_article=False, on_error=on_error, result=result):  # type: ignore[arg-type]
        yield {"id": rec["sentence_id"], "text": rec["text"], "source": rec["source"],
               "article_id": rec["article_id"], "title": rec.get("title")}


def _preprocessing_override(path: str | None) -> dict | None:
    """The ``--preprocessing`` file as a mapping (None without one)."""
    if path is None:
        return None
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(f"cannot read the preprocessing file: {e}", path=p) from e
    if not isinstance(data, dict):
        raise InputError("expected a mapping with cleaning / segmenter / attribution", path=p)
    return data


def _parity_texts(path: Path) -> list[str]:
    """Test-split sentences of a stance-build dataset (or run) folder, or a file's ``text`` column."""
    from stance.data.dataset_dir import read_dataset
    from stance.data.readers import ReadResult, iter_table

    if path.is_dir():
        df = read_dataset(path).sentences
        if "split" in df and (df["split"] == "test").any():
            df = df[df["split"] == "test"]
        if "duplicate_of" in df:
            df = df[df["duplicate_of"].isna()]
        return df["text"].astype(str).tolist()
    return [str(r["text"]) for _, r in iter_table(path, ("text",), "skip", ReadResult())]


def _synced(items: Iterable[Any], read: Any, stats: Any) -> Iterator[Any]:
    """``items``, keeping the stats' count of cp1252-decoded lines/files up to date with the
    streaming reader's (including lines read after the last item)."""
    for item in items:
        stats.decoded_with_fallback = read.decoded_with_fallback
        yield item
    stats.decoded_with_fallback = read.decoded_with_fallback


# --------------------------------------------------------------------------- main


def _check_args(args: argparse.Namespace) -> None:
    from stance.scoring.records import output_format

    for name in ("batch_size", "chunk_articles", "max_sentence_chars", "max_article_chars", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise StanceError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    output_format(args.output, args.format)  # fail early on a bad extension


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model and the predictor that scores with it (``--fast``), parity-checked when asked."""
    import stance
    from stance.scoring.fast import accelerate

    model = stance.load_model(args.model)
    if hasattr(model, "progress"):
        model.progress = False  # stance-score shows its own progress bar
    if args.threads and (getattr(model, "kind", None) == "transformer" or "torch" in sys.modules):
        import torch

        torch.set_num_threads(args.threads)
    t_setup = time.perf_counter()
    predictor = accelerate(model, args.fast, threads=args.threads, fallback_margin=args.fallback_margin)
    setup = time.perf_counter() - t_setup
    console.print(f"model: {getattr(model, 'kind', '?')} from {args.model}"
                  + (f", fast path {args.fast} (ready in {setup:.1f}s)" if args.fast != "none" else ""))
    if args.parity_check:
        _check_parity(args, model, predictor)
    return model, predictor


def _check_parity(args: argparse.Namespace, model: Any, predictor: Any) -> None:
    from stance.scoring.fast import parity

    texts = _parity_texts(Path(args.parity_check))
    if not texts:
        raise InputError("no sentences to compare", path=args.parity_check)
    res = parity(model, predictor, texts)
    console.print(f"parity ({args.fast} vs fp32) on {res['n']} sentences: label agreement "
                  f"{res['agreement']:.4f}, max |proba diff| {res['max_abs_proba_diff']:.4f}")
    if hasattr(predictor, "n_scored"):
        predictor.n_scored = predictor.n_fallback = 0  # count the scoring run only
    if res["agreement"] < args.parity_min:
        raise StanceError(
            f"the {args.fast} path agrees with fp32 on only {res['agreement']:.2%} of labels "
            f"(< {args.parity_min:.0%}); score with --fast none"
        )


def _progress(args: argparse.Namespace, unit: str) -> tuple[Any, Callable[[Any], None]]:
    """A tqdm bar (None with --no-progress) and the per-item callback that advances it."""
    if args.no_progress:
        return None, lambda st: None
    from tqdm.auto import tqdm

    bar = tqdm(unit=unit, desc="scoring", dynamic_ncols=True, file=sys.stderr)
    last = [0.0]

    def on_item(st: Any) -> None:
        bar.update(1)
        now = time.perf_counter()
        if now - last[0] > 0.5 and st.seconds > 0:
            last[0] = now
            bar.set_postfix_str(f"{st.sentences_per_second:.0f} sent/s, {st.sentences} sentences")

    return bar, on_item


def run(args: argparse.Namespace) -> int:
    from stance.data.readers import ReadResult, iter_corpus
    from stance.scoring.score import ScoreStats
    from stance.scoring.to_file import score_to_file

    _check_args(args)
    if args.engine == "ray":
        return _run_ray(args)
    inp = Path(args.input)
    if not inp.exists():
        raise InputError("input does not exist", path=inp, hint="check --input")
    model, predictor = _load(args)

    read = ReadResult()
    if args.level == "article":
        # streamed: JSONL/CSV line by line, Parquet by row group, directories file by file
        items: Any = iter_corpus(inp, read, manifest=args.manifest, default_source=args.default_source,
                                 on_error=args.on_error)
        chunk, unit = args.chunk_articles, "article"
    else:
        items = _sentence_items(inp, args.on_error, read, args.default_source)
        chunk, unit = args.chunk_articles * 20, "sent"
    # reader skips and scoring skips (duplicate ids) share one list
    stats = ScoreStats(skipped=read.skipped, decoded_with_fallback=read.decoded_with_fallback)
    bar, on_item = _progress(args, unit)
    t0 = time.perf_counter()
    try:
        result = score_to_file(
            model, _synced(items, read, stats), args.output, predictor=predictor, level=args.level, fmt=args.format,
            chunk_size=chunk, overwrite=args.overwrite, batch_size=args.batch_size,
            model_dir=args.model, fast=args.fast, stats=stats, on_item=on_item,
            attribution=not args.no_attribution, preprocessing=_preprocessing_override(args.preprocessing),
            max_sentence_chars=args.max_sentence_chars, max_article_chars=args.max_article_chars,
            on_error=args.on_error,
            run_info={"input": str(Path(inp).resolve())},
        )
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        console.print(f"[yellow]interrupted[/yellow] after {stats.articles or stats.sentences} new "
                      f"{unit}s; completed chunks are kept: run the same command again to resume")
        return 130
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    stats.decoded_with_fallback = read.decoded_with_fallback
    _print_summary(result, stats, wall, args)
    if getattr(predictor, "n_scored", 0):
        console.print(f"fast path: {predictor.n_fallback} of {predictor.n_scored} sentences "
                      f"({predictor.n_fallback / predictor.n_scored:.1%}) re-scored with fp32 "
                      f"(top-2 margin < {predictor.fallback_margin})")
    return 0


def _run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: :func:`stance.scoring.distributed.score_dataset_ray`."""
    from stance.scoring.distributed import score_dataset_ray

    for flag, value in (("--manifest", args.manifest), ("--parity-check", args.parity_check)):
        if value:
            raise StanceError(f"{flag} is not supported with --engine ray (use --engine local)")
    if args.workers < 1:
        raise StanceError(f"--workers must be >= 1, got {args.workers}")
    console.print(f"model: {args.model}; engine: ray ({args.workers} workers x {args.worker_cpus:g} CPU"
                  + (f", {args.worker_gpus:g} GPU" if args.worker_gpus else "") + ") at "
                  + (args.ray_address or "a local Ray runtime"))
    t0 = time.perf_counter()
    try:
        result = score_dataset_ray(
            args.model, args.input, args.output, address=args.ray_address, num_workers=args.workers,
            num_cpus=args.worker_cpus, num_gpus=args.worker_gpus, batch_size=args.batch_size,
            chunk_size=args.chunk_articles * (20 if args.level == "sentence" else 1), fast=args.fast,
            fallback_margin=args.fallback_margin, threads=args.threads, level=args.level, fmt=args.format,
            overwrite=args.overwrite, default_source=args.default_source, on_error=args.on_error,
            preprocessing=_preprocessing_override(args.preprocessing), attribution=not args.no_attribution,
            max_sentence_chars=args.max_sentence_chars, max_article_chars=args.max_article_chars,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]; completed chunks are kept: run the same command again to resume")
        return 130
    _print_summary(result, result.stats, time.perf_counter() - t0, args)
    return 0


def _print_summary(result: Any, stats: Any, wall: float, args: argparse.Namespace) -> None:
    from rich.table import Table

    t = Table(title="stance-score summary", show_header=False)
    if args.level == "article":
        t.add_row("articles scored", str(stats.articles))
        t.add_row("articles without sentences", str(stats.empty_articles))
    t.add_row("sentences scored", str(stats.sentences))
    t.add_row("already in the output", str(result.already_done))
    t.add_row("skipped records", str(len(stats.skipped)) + (
        " (" + ", ".join(f"{k}={v}" for k, v in sorted(stats.skip_counts().items())) + ")"
        if stats.skipped else ""))
    t.add_row("truncated articles / sentences", f"{stats.truncated_articles} / {stats.truncated_sentences}")
    if stats.decoded_with_fallback:
        t.add_row("files decoded with cp1252 fallback", str(stats.decoded_with_fallback))
    rate = stats.sentences / stats.seconds if stats.seconds > 0 else float("nan")
    t.add_row("speed", f"{rate:.1f} sentences/s scoring, {wall:.1f}s wall")
    t.add_row("output sentences (total)", str(result.totals.get("sentences", "?")))
    for key in ("records", "articles", "sources"):
        t.add_row(key, str(result.paths[key]))
    console.print(t)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if stats.truncated_articles or stats.truncated_sentences:
        console.print(f"[yellow]warning:[/yellow] truncated {stats.truncated_articles} article(s) and "
                      f"{stats.truncated_sentences} sentence(s) over the length limits")
    if stats.skipped:
        console.print(f"[yellow]warning:[/yellow] {len(stats.skipped)} record(s) skipped:")
        for sk in stats.skipped[:10]:
            console.print(f"  {sk.where}: {sk.reason}")
        if len(stats.skipped) > 10:
            console.print(f"  ... and {len(stats.skipped) - 10} more (listed in {result.paths['run'].name})")


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a scheduler stopping the job) stops like Ctrl-C: parts are kept


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import signal

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    with exit_on_user_error():
        code = run(args)
    if code:
        sys.exit(code)


if __name__ == "__main__":  # python -m stance.cli.score
    main()
