"""Leak-proof splits: every article goes to exactly one split.

Pure logic on per-article facts (id, source, date, dominant label). Modes:
``by="article"`` (stratified by dominant label where possible), ``by="source"`` (whole
outlets held out; :func:`leave_one_source_out` yields one fold per outlet) and ``by="date"``.
Articles whose id matches ``test_articles`` patterns always go to test.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stance.errors import ConfigError, InputError

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SplitBy = Literal["article", "source", "date"]


@dataclass(frozen=True)
class ArticleFacts:
    """What the splitter needs to know about one article."""

    article_id: str
    source: str
    date: str | None = None
    stratum: str | None = None  # e.g. the article's dominant gold label


@dataclass
class SplitResult:
    """Article -> split, and how it was made."""

    assignment: dict[str, str]
    stratified: bool = False
    notes: list[str] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(self.assignment.values())


class Splitter:
    """Assigns whole articles to train/validation/test.

    Args:
        by: ``article``, ``source`` or ``date``.
        val_fraction: share of the remaining articles (by=article) or sources (by=source) for
            validation.
        test_fraction: same for test, used when no ``test_articles``/``test_sources`` are given.
        test_articles: glob patterns of article ids always put in test (e.g. ``["seed-*"]``).
        test_sources: outlets held out for test (by=source).
        val_sources: outlets held out for validation (by=source).
        val_from: ISO date; articles on/after it go to validation (by=date).
        test_from: ISO date; articles on/after it go to test (by=date).
        seed: random seed.
    """

    def __init__(
        self,
        by: SplitBy = "article",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        test_articles: Sequence[str] = (),
        test_sources: Sequence[str] = (),
        val_sources: Sequence[str] = (),
        val_from: str | None = None,
        test_from: str | None = None,
        seed: int = 0,
    ) -> None:
        if by not in ("article", "source", "date"):
            raise ConfigError(f"split by={by!r} is not one of article, source, date")
        for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= frac < 1:
                raise ConfigError(f"{name}={frac} must be in [0, 1)")
        self.by = by
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.test_articles = list(test_articles)
        self.test_sources = list(test_sources)
        self.val_sources = list(val_sources)
        self.val_from = val_from
        self.test_from = test_from
        self.seed = seed

    # -------------------------------------------------------------------------------------
    def assign(self, articles: Sequence[ArticleFacts]) -> SplitResult:
        """Assign every article to one split."""
        ids = [a.article_id for a in articles]
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        if dupes:
            raise InputError(f"duplicate article ids: {', '.join(sorted(dupes)[:5])}",
                             hint="article ids must be unique across all corpora")
        pinned = {a.article_id for a in articles if self._pinned(a.article_id)}
        rest = [a for a in articles if a.article_id not in pinned]
        if self.by == "article":
            result = self._by_article(rest, test_given=bool(pinned))
        elif self.by == "source":
            result = self._by_source(rest, test_given=bool(pinned))
        else:
            result = self._by_date(rest)
        result.assignment.update({i: "test" for i in pinned})
        return result

    def _pinned(self, article_id: str) -> bool:
        return any(fnmatch.fnmatchcase(article_id, p) for p in self.test_articles)

    def _by_article(self, arts: Sequence[ArticleFacts], test_given: bool) -> SplitResult:
        rng = np.random.default_rng(self.seed)
        strata = [a.stratum or "_" for a in arts]
        counts = Counter(strata)
        stratified = len(counts) > 1 and min(counts.values()) >= 2
        result = SplitResult({}, stratified=stratified)
        if not stratified and len(counts) > 1:
            result.notes.append("not stratified: a stratum has fewer than 2 articles")
        groups: dict[str, list[str]] = {}
        for a, s in zip(arts, strata):
            groups.setdefault(s if stratified else "_", []).append(a.article_id)
        test_frac = 0.0 if test_given else self.test_fraction
        for members in groups.values():
            members = sorted(members)
            rng.shuffle(members)
            n = len(members)
            n_test = int(round(n * test_frac))
            n_val = int(round(n * self.val_fraction))
            if n_val == 0 and self.val_fraction > 0 and n - n_test >= 3:
                n_val = 1
            for i, aid in enumerate(members):
                result.assignment[aid] = (
                    "test" if i < n_test else "validation" if i < n_test + n_val else "train"
                )
        return result

    def _by_source(self, arts: Sequence[ArticleFacts], test_given: bool) -> SplitResult:
        sources = sorted({a.source for a in arts})
        unknown = (set(self.test_sources) | set(self.val_sources)) - set(sources)
        if unknown:
            raise ConfigError(
                f"held-out sources not in the corpus: {', '.join(sorted(unknown))}; "
                f"sources are: {', '.join(sources)}"
            )
        test, val = set(self.test_sources), set(self.val_sources)
        free = [s for s in sources if s not in test | val]
        rng = np.random.default_rng(self.seed)
        rng.shuffle(free)
        if not test and not test_given and self.test_fraction > 0:
            k = max(1, int(round(len(sources) * self.test_fraction)))
            test, free = set(free[:k]), free[k:]
        if not val and self.val_fraction > 0:
            k = max(1, int(round(len(sources) * self.val_fraction)))
            val, free = set(free[:k]), free[k:]
        if not free:
            raise ConfigError("by=source left no outlet for training; hold out fewer sources")
        split_of = {s: "test" for s in test} | {s: "validation" for s in val}
        return SplitResult({a.article_id: split_of.get(a.source, "train") for a in arts})

    def _by_date(self, arts: Sequence[ArticleFacts]) -> SplitResult:
        if not (self.val_from or self.test_from):
            raise ConfigError("by=date needs val_from and/or test_from (ISO dates)")
        undated = [a.article_id for a in arts if not a.date]
        if undated:
            raise InputError(
                f"{len(undated)} article(s) have no date, e.g. {undated[0]}",
                field="date",
                hint="give every article a date or split by article/source",
            )
        out = {}
        for a in arts:
            d = str(a.date)[:10]
            if self.test_from and d >= self.test_from:
                out[a.article_id] = "test"
            elif self.val_from and d >= self.val_from:
                out[a.article_id] = "validation"
            else:
                out[a.article_id] = "train"
        return SplitResult(out)


def leave_one_source_out(
    articles: Sequence[ArticleFacts], val_fraction: float = 0.15, seed: int = 0
) -> Iterator[tuple[str, SplitResult]]:
    """One fold per outlet: that outlet is the test split, the rest split by article."""
    for source in sorted({a.source for a in articles}):
        held = [a for a in articles if a.source == source]
        rest = [a for a in articles if a.source != source]
        result = Splitter(by="article", val_fraction=val_fraction, test_fraction=0.0, seed=seed)._by_article(
            rest, test_given=True
        )
        result.assignment.update({a.article_id: "test" for a in held})
        yield source, result


def check_no_leak(article_of: dict[str, str], split_of_sentence: dict[str, str]) -> list[str]:
    """Articles whose sentences sit in more than one split (should be empty)."""
    seen: dict[str, set[str]] = {}
    for sid, split in split_of_sentence.items():
        seen.setdefault(article_of[sid], set()).add(split)
    return sorted(a for a, s in seen.items() if len(s) > 1)
