"""``stance-audit``: the words and phrases whose label distribution is far from the rest of the data's.

Lists the (term, label) pairs of a labelled dataset ranked by a Beta-smoothed log-odds
z-score (:mod:`stance.data.audit`), with the sentences per label that contain each term and
example sentences, and, for a scheme with two poles, the terms one pole's sentences use and
the other's (nearly) never do. Labels and poles come from the scheme the dataset was built
with (``build_report.json``), or from ``--scheme`` for a plain sentence table.

Examples::

    stance-audit runs/sample/dataset                      # train split, top 30, Markdown to stdout
    stance-audit runs/sample/dataset --split all --output audit.md
    stance-audit gold.csv --scheme pak_afghan --term sovereignty --term "Afghan people"

Input: a stance-build dataset folder (or a run directory, or the folder's sentences.parquet),
or a labelled sentence table (CSV, JSONL, JSON or Parquet with ``text`` and ``label``; optional
``split``). Output by the extension of ``--output``: ``.md`` (the report printed without
``--output``), ``.csv`` (the term table; ``<stem>.poles.csv`` and ``<stem>.terms.csv`` beside
it for the pole asymmetries and ``--term`` look-ups) or ``.json`` (everything). Exit status 0
on success, 2 on bad input or options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.cli.common import console, exit_on_user_error
from stance.errors import InputError

FORMATS = (".md", ".csv", ".json")


@dataclass
class AuditInput:
    """The labelled sentences to audit and where they came from."""

    path: Path
    kind: str  # "dataset" | "table"
    frame: pd.DataFrame  # text, label, split (split may be all None)
    scheme: Any  # stance.scheme.Scheme
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- input


def _is_dataset(path: Path) -> bool:
    from stance.data.dataset_dir import REPORT

    return path.is_dir() or (path.is_file() and (path.parent / REPORT).is_file()
                             and path.suffix.lower() == ".parquet")


def _scheme_option(name: str | None):  # noqa: ANN202 - Scheme | None
    if name is None:
        return None
    from stance.resources import bundled_scheme

    return bundled_scheme(name)


def load_input(path: Path, scheme_name: str | None = None) -> AuditInput:
    """Read a dataset folder or a labelled sentence table, with the scheme that labels it."""
    from stance.scheme import Scheme, check_same_scheme, infer_labels

    wanted = _scheme_option(scheme_name)
    if _is_dataset(path):
        from stance.data.dataset_dir import read_dataset

        data = read_dataset(path)
        df = data.labelled("all")
        if "split" not in df.columns:
            df = df.assign(split=None)
        frame = df[["text", "label", "split"]].assign(label=lambda d: d["label"].astype(str))
        scheme, where = data.scheme, data.table
        notes = []
        if scheme is not None and wanted is not None:
            check_same_scheme(wanted, scheme, f"--scheme {scheme_name}", f"the dataset {where}")
        scheme = scheme or wanted
        if scheme is None:
            labels = infer_labels(frame["label"], where=str(where))
            scheme = Scheme.from_labels(labels)
            notes.append("no build report and no --scheme: labels taken from the data, no poles")
        unknown = sorted(set(frame["label"]) - set(scheme.label_list))
        if unknown:
            raise InputError(f"labels {unknown} are not in the scheme {scheme.describe()}", path=where,
                             field="label", hint="audit with the scheme the data was labelled with (--scheme)")
        return AuditInput(where, "dataset", frame.reset_index(drop=True), scheme, notes)

    from stance.data.sentence_table import read_labelled_sentences

    rows = read_labelled_sentences(path).rows
    if not rows:
        raise InputError("the sentence table has no rows", path=path, hint="give labelled sentences")
    notes = []
    if wanted is not None:
        for r in rows:
            line = r["origin"].rsplit(":", 1)[-1]
            wanted.check_label(r["label"], path=path, line=int(line) if line.isdigit() else None)
        scheme = wanted
    else:
        scheme = Scheme.from_labels(infer_labels([r["label"] for r in rows], where=str(path)))
        notes.append("labels taken from the data (sorted), no poles: give --scheme NAME for the pole check")
    frame = pd.DataFrame({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows],
                          "split": [r["split"] for r in rows]})
    return AuditInput(path, "table", frame, scheme, notes)


def select_split(frame: pd.DataFrame, split: str | None, where: Path) -> tuple[pd.DataFrame, str, str]:
    """The rows of ``split`` (comma-separated names, ``all``, or None for the default: ``train``
    when the data has a split column, else all), the split's name and a sentence saying why."""
    from stance.data.sentence_table import SPLIT_ALIASES

    present = sorted(str(s) for s in frame["split"].dropna().unique())
    if split is None:
        if not present:
            return frame, "all", "all sentences (the data has no split column)"
        names = ["train"]
        how = "train (the default when the data has a split column; --split all for every split)"
    elif split.strip().lower() == "all":
        return frame, "all", "all sentences (--split all)"
    else:
        names = []
        for raw in split.split(","):
            name = SPLIT_ALIASES.get(raw.strip().lower())
            if name is None:
                raise InputError(f"unknown split {raw.strip()!r}", field="split",
                                 hint="use train, validation, test, a comma-separated list of them, or all")
            names.append(name)
        how = ", ".join(dict.fromkeys(names))
        if not present:
            raise InputError(f"the data has no split column to select {how} from", path=where, field="split",
                             hint="use --split all")
    out = frame[frame["split"].isin(names)]
    if out.empty:
        raise InputError(f"no labelled sentences in split {', '.join(names)}", path=where, field="split",
                         hint=f"the data has {', '.join(present)}; choose one with --split, or --split all")
    name = ", ".join(dict.fromkeys(names))
    return out.reset_index(drop=True), name, how


# --------------------------------------------------------------------------- output


def _md_table(title: str, intro: str, head: list[str], align: str, rows: list[list[str]]) -> list[str]:
    """A titled Markdown table's lines (preceded by a blank line)."""
    return ["", title, "", intro, "", "| " + " | ".join(head) + " |", align,
            *("| " + " | ".join(r) + " |" for r in rows)]


def _count_cells(row: Any, labels: Sequence[str]) -> str:
    """The ``n_<label>`` sentence counts of a table row as Markdown cells."""
    return " | ".join(str(int(getattr(row, f"n_{lab}"))) for lab in labels)


def _md(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _example(examples: Sequence[str], width: int = 120) -> str:
    if not len(examples):
        return ""
    text = " ".join(str(examples[0]).split())
    return _md(text if len(text) <= width else text[: width - 1].rstrip() + "…")


def _top(df: pd.DataFrame, top: int) -> pd.DataFrame:
    return df if top == 0 else df.head(top)


@dataclass
class AuditReport:
    """Everything one run of the audit found (what every output format is made from)."""

    input: AuditInput
    split: str
    split_note: str
    n_sentences: pd.Series
    n_terms: int
    settings: Any  # AuditSettings
    terms: pd.DataFrame
    poles: pd.DataFrame | None
    requested: pd.DataFrame | None
    top: int

    @property
    def labels(self) -> list[str]:
        return list(self.input.scheme.label_list)

    def header(self) -> list[str]:
        s, sch = self.settings, self.input.scheme
        poles = f"; poles {sch.poles[0]} / {sch.poles[1]}" if sch.poles else "; no poles"
        per_label = ", ".join(f"{lab} {int(self.n_sentences[lab]):,}" for lab in self.labels)
        lo, hi = s.ngram_range
        grams = f"{lo}-grams" if lo == hi else f"{lo}- to {hi}-grams"
        return [
            f"- input: `{self.input.path}` ({'stance-build dataset' if self.input.kind == 'dataset' else 'sentence table'}"
            f", scheme `{sch.name}`: {', '.join(self.labels)}{poles})",
            f"- split: {self.split_note}",
            f"- labelled sentences: {int(self.n_sentences.sum()):,} ({per_label})",
            f"- terms: word {grams} in at least {s.min_count} sentences, not made of stop words only: "
            f"{self.n_terms:,}; prior strength s = {s.prior_strength:g}; flagged: z >= {s.z_flag:g} "
            f"({int(self.terms['flagged'].sum()):,} (term, label) pairs)",
            *[f"- note: {n}" for n in self.input.notes],
        ]

    def markdown(self) -> str:
        labels, s = self.labels, self.settings
        shown = _top(self.terms, self.top)
        lines = ["# Shortcut audit", "", *self.header()]
        lines += _md_table(
            f"## Top {len(shown)} (term, label) pairs by z",
            "Counts are sentences containing the term, per label. share: the term's sentences in "
            "that label (compare with the label's share of all sentences above).",
            ["#", "term", "label", "z", "delta", *labels, "share", "flagged", "example"],
            "|---:|---|---|---:|---:|" + "---:|" * len(labels) + "---:|---|---|",
            [[str(i), _md(r.term), r.label, f"{r.z:.2f}", f"{r.delta:.2f}", _count_cells(r, labels),
              f"{r.share:.2f}", "yes" if r.flagged else "", _example(r.examples)]
             for i, r in enumerate(shown.itertuples(index=False), 1)])
        if self.poles is not None:
            a, b = self.input.scheme.poles
            shown_p = _top(self.poles, self.top)
            lines += _md_table(
                f"## Pole asymmetry ({a} / {b}): {len(shown_p)} of {len(self.poles):,} terms",
                f"Terms in at least {s.pole_min_count} sentences of one pole whose rate in the other "
                f"pole's sentences is at most {s.pole_max_ratio:g} times that; z: the log-odds of owner "
                "against other pole only.",
                ["#", "term", "owner", "z (poles)", "rate ratio", *labels, "example"],
                "|---:|---|---|---:|---:|" + "---:|" * len(labels) + "---|",
                [[str(i), _md(r.term), r.owner, f"{r.z:.2f}", f"{r.rate_ratio:.3f}", _count_cells(r, labels),
                  _example(r.examples)] for i, r in enumerate(shown_p.itertuples(index=False), 1)])
        else:
            lines += ["", "No pole-asymmetry check: the scheme has no two poles."]
        if self.requested is not None:
            lines += ["", "## Requested terms (no minimum count)", "",
                      f"| term | {' | '.join(labels)} | " + " | ".join(f"z {lab}" for lab in labels) + " |",
                      "|---|" + "---:|" * (2 * len(labels))]
            for term, g in self.requested.groupby("term", sort=False):
                first = g.iloc[0]
                counts = " | ".join(str(int(first[f"n_{lab}"])) for lab in labels)
                zs = {r.label: r.z for r in g.itertuples(index=False)}
                zcol = " | ".join(f"{zs[lab]:.2f}" if lab in zs else "" for lab in labels)
                lines.append(f"| {_md(term)} | {counts} | {zcol} |")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        def rows(df: pd.DataFrame | None, top: int) -> list[dict] | None:
            return None if df is None else _top(df, top).to_dict("records")

        sch = self.input.scheme
        return {
            "input": str(self.input.path), "kind": self.input.kind,
            "scheme": {"name": sch.name, "labels": self.labels, "poles": list(sch.poles) if sch.poles else None},
            "split": self.split, "split_note": self.split_note, "notes": self.input.notes,
            "n_sentences": {lab: int(self.n_sentences[lab]) for lab in self.labels},
            "settings": asdict(self.settings), "n_terms": self.n_terms,
            "n_flagged": int(self.terms["flagged"].sum()),
            "terms": rows(self.terms, self.top), "pole_asymmetry": rows(self.poles, self.top),
            "requested_terms": rows(self.requested, 0),
        }


def _csv(df: pd.DataFrame) -> str:
    return df.assign(examples=df["examples"].map(" || ".join)).to_csv(index=False)


def write_report(report: AuditReport, output: Path) -> list[Path]:
    """Write ``report`` to ``output`` in the format its extension names; returns the files."""
    from stance.atomic import write_json_atomic, write_text_atomic

    ext = output.suffix.lower()
    if ext not in FORMATS:
        raise InputError(f"unsupported output format {output.suffix or '(no suffix)'!r}", path=output,
                         hint="name a .md, .csv or .json file")
    if output.is_dir():
        raise InputError("the output is a directory", path=output, hint="name a .md, .csv or .json file")
    output.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".md":
        write_text_atomic(output, report.markdown())
        return [output]
    if ext == ".json":
        write_json_atomic(output, report.to_json())
        return [output]
    written = [output]
    write_text_atomic(output, _csv(_top(report.terms, report.top)))
    for df, tag in ((report.poles, "poles"), (report.requested, "terms")):
        if df is not None:
            side = output.with_name(f"{output.stem}.{tag}.csv")
            write_text_atomic(side, _csv(df if tag == "terms" else _top(df, report.top)))
            written.append(side)
    return written


# --------------------------------------------------------------------------- main


def audit(input_path: Path, *, split: str | None = None, scheme: str | None = None, top: int = 30,
          settings: Any = None, terms: Sequence[str] | None = None) -> AuditReport:
    """Run the audit on ``input_path`` (no output written)."""
    from stance.data.audit import (
        AuditSettings,
        count_terms,
        normalise_term,
        pole_asymmetry,
        score_terms,
    )

    settings = settings or AuditSettings()
    data = load_input(input_path, scheme)
    frame, name, how = select_split(data.frame, split, data.path)
    labels = data.scheme.label_list
    tc = count_terms(frame, labels, settings)
    scored = score_terms(tc)
    poles = pole_asymmetry(tc, data.scheme.poles) if data.scheme.poles else None
    requested = score_terms(count_terms(frame, labels, settings, terms=terms)) if terms else None
    if requested is not None:  # in the order asked for; within a term, by z
        order = {t: i for i, t in enumerate(dict.fromkeys(normalise_term(t) for t in terms or ()))}
        requested = requested.sort_values("term", key=lambda s: s.map(order), kind="mergesort")
    return AuditReport(data, name, how, tc.n_sentences, len(tc.counts), settings, scored, poles, requested, top)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stance-audit", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=Path, help="stance-build dataset folder (or run directory), or a labelled "
                    "sentence table (.csv, .jsonl, .parquet)")
    ap.add_argument("--split", default=None, help="train | validation | test | a comma-separated list | all "
                    "(default: train when the data has a split column, else all)")
    ap.add_argument("--scheme", default=None, help="bundled scheme of a sentence table (configs/scheme/, e.g. "
                    "pak_afghan); default: labels from the data, no poles. A dataset uses the scheme it was "
                    "built with")
    ap.add_argument("--output", "-o", type=Path, default=None, help="write here (.md, .csv or .json) instead "
                    "of printing Markdown")
    ap.add_argument("--top", type=int, default=30, help="rows per table (default 30; 0 = all)")
    ap.add_argument("--term", action="append", default=None, metavar="TERM",
                    help="also report this word or phrase, whatever its count (repeatable)")
    ap.add_argument("--min-count", type=int, default=5, help="sentences a term must occur in (default 5)")
    ap.add_argument("--max-ngram", type=int, default=3, help="longest word n-gram (default 3)")
    ap.add_argument("--prior-strength", type=float, default=10.0,
                    help="Beta prior strength s, in pseudo-sentences (default 10)")
    ap.add_argument("--z-flag", type=float, default=3.0, help="flag (term, label) pairs with z >= this (default 3)")
    ap.add_argument("--examples", type=int, default=2, help="example sentences kept per term (default 2)")
    ap.add_argument("--pole-min-count", type=int, default=5,
                    help="sentences of its pole a pole-asymmetric term must occur in (default 5)")
    ap.add_argument("--pole-max-ratio", type=float, default=0.1,
                    help="largest rate in the other pole, as a fraction of the owner pole's (default 0.1)")
    return ap


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from stance.data.audit import AuditSettings

    ap = build_parser()
    args = ap.parse_args(argv)
    if args.top < 0:
        ap.error("--top must be 0 (all) or positive")
    for opt in ("min_count", "max_ngram", "pole_min_count"):
        if getattr(args, opt) < 1:
            ap.error(f"--{opt.replace('_', '-')} must be at least 1")
    if args.examples < 0 or not args.prior_strength > 0:
        ap.error("--examples must be >= 0 and --prior-strength positive")
    with exit_on_user_error():
        settings = AuditSettings(ngram_range=(1, args.max_ngram), min_count=args.min_count,
                                 prior_strength=args.prior_strength, z_flag=args.z_flag, examples=args.examples,
                                 pole_min_count=args.pole_min_count, pole_max_ratio=args.pole_max_ratio)
        report = audit(args.input, split=args.split, scheme=args.scheme, top=args.top, settings=settings,
                       terms=args.term)
        if args.output is None:
            sys.stdout.write(report.markdown())
            return
        written = write_report(report, args.output)
    n_poles = "" if report.poles is None else f", {len(report.poles):,} pole-asymmetric term(s)"
    console.print(f"audited {int(report.n_sentences.sum()):,} sentences (split {report.split}): "
                  f"{int(report.terms['flagged'].sum()):,} flagged (term, label) pair(s){n_poles}")
    console.print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    sys.exit(main())
