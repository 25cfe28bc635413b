"""What the sections of the corpus report share: one score output's per-source tables and cell helpers.

:class:`Corpus` holds a score output with its per-source summary (slant or label shares, raw and,
where the model's validation confusion matrix travels with it, prevalence-corrected) and the
order and support of the sources; :func:`fmt_source_ci`, :func:`shorten`, :func:`model_name` and
:func:`period_name` write the cells and names the corpus, time and comparison sections show.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stance.evaluation.corpus import corrected_intervals
from stance.reporting import plots
from stance.reporting.document import DASH, fmt_ci, fmt_num
from stance.scoring.records import ScoreOutput
from stance.scoring.score import source_summary

__all__ = ["MAX_SAMPLE_TEXT", "PERIOD_NAMES", "Corpus", "fmt_source_ci", "model_name", "period_name", "shorten"]

PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
MAX_SAMPLE_TEXT = 400


def period_name(period: str) -> str:
    """The name of a pandas period alias (``W`` -> ``week``)."""
    return PERIOD_NAMES.get(period.split("-")[0].upper(), f"period {period}")


def shorten(text: Any, limit: int = MAX_SAMPLE_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis where it was cut."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


def fmt_source_ci(t: pd.DataFrame, s: str, col: str, signed: bool = True) -> str:
    """``col`` of source ``s`` with its interval, or "(1 article: no interval)"."""
    if col not in t.columns:
        return DASH
    est = fmt_num(t.loc[s, col], signed=signed)
    if est == DASH:
        return est
    if int(t.loc[s, "n_articles"]) < 2:
        return f"{est} (1 article: no interval)"
    return fmt_ci(t.loc[s, col], t.loc[s, f"{col}_low"], t.loc[s, f"{col}_high"], signed=signed)


def model_name(o: ScoreOutput) -> str:
    """A score output's model as ``kind (folder/file)``."""
    fp = o.run.get("fingerprint") or {}
    where = f"{o.path.parent.name}/{o.path.name}" if o.path.parent.name else o.path.name
    return f"{fp.get('kind', '?')} ({where})"


class Corpus:
    """One score output and the tables the sections share."""

    def __init__(self, out: ScoreOutput, *, n_boot: int, seed: int, min_sentences: int, min_articles: int) -> None:
        self.out = out
        self.scheme = out.scheme
        self.n_boot, self.seed = n_boot, seed
        self.min_sentences, self.min_articles = min_sentences, min_articles
        info = out.run.get("model_info") or {}
        self.model_info = info
        self.confusion = info.get("validation_confusion_matrix")
        rec = out.records
        self.table = source_summary(rec, self.scheme, confusion=None, min_sentences=min_sentences,
                                    min_articles=min_articles, n_boot=n_boot, seed=seed)
        self.table["source"] = self.table["source"].astype(str)
        self.corrected = None
        self.correction_error = None
        if self.confusion:
            try:
                self.corrected = corrected_intervals(rec, self.confusion, self.scheme, n_boot=n_boot, seed=seed)
                self.table = self.table.merge(self.corrected.assign(source=self.corrected["source"].astype(str)),
                                              on="source", how="left")
            except ValueError as e:
                self.correction_error = str(e)
        self.t = self.table.set_index("source")
        key = "slant" if self.scheme.has_slant else "js_divergence"
        self.order = plots.source_order(self.table, key)
        self.low = {s for s in self.order if bool(self.t.loc[s, "low_support"])}
        self.supported = [s for s in self.order if s not in self.low]
