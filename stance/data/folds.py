"""Cross-validation folds made of whole groups: articles, outlets or groups of outlets.

Pure logic on a labelled sentence table (columns ``article_id``, ``source``, ``label`` and, for
outlet groups given as a column, that column). Every sentence of a group lands in the same fold,
so a held-out fold never shares an article (``by="article"``), an outlet (``by="source"``) or an
outlet group (``by="source_group"``) with the folds a model is fitted on. The folds come from
scikit-learn: ``StratifiedGroupKFold`` (label shares balanced across folds, falling back to
``GroupKFold`` when stratifying would leave a fold empty) and ``LeaveOneGroupOut``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
)

from stance.errors import ConfigError

__all__ = ["CV_MODES", "CVBy", "Folds", "inner_split", "make_folds", "row_groups", "source_to_group"]

CVBy = Literal["article", "source", "source_group"]
CV_MODES: tuple[str, ...] = ("article", "source", "source_group")
_UNIT = {"article": "article", "source": "source", "source_group": "source group"}


@dataclass(frozen=True)
class Folds:
    """Fold of every row of a sentence table, and the group each row belongs to.

    Attributes:
        by: ``article``, ``source`` or ``source_group``.
        fold: fold index (``0 .. n_folds - 1``) per row.
        group: the group id per row (article id, source, or outlet group).
        stratified: whether label shares were balanced across folds.
        seed: the seed the assignment was drawn with.
    """

    by: str
    fold: np.ndarray
    group: np.ndarray
    stratified: bool
    seed: int

    @property
    def n_folds(self) -> int:
        return int(self.fold.max()) + 1 if len(self.fold) else 0

    def held_out(self, i: int) -> list[str]:
        """The groups of fold ``i`` (sorted)."""
        return sorted({str(g) for g in self.group[self.fold == i]})

    def split(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(fold, train rows, held-out rows)`` per fold (row positions)."""
        for i in range(self.n_folds):
            yield i, np.flatnonzero(self.fold != i), np.flatnonzero(self.fold == i)

    def to_dict(self, articles: Any = None) -> dict[str, Any]:
        """JSON-ready description: fold -> held-out groups, sentence and article counts."""
        arts = None if articles is None else np.asarray(articles, dtype=object)
        folds = {}
        for i in range(self.n_folds):
            rows = self.fold == i
            folds[str(i)] = {
                "held_out": self.held_out(i),
                "n_sentences": int(rows.sum()),
                **({"n_articles": int(len(set(arts[rows])))} if arts is not None else {}),
            }
        return {"by": self.by, "unit": _UNIT[self.by], "n_folds": self.n_folds,
                "stratified": self.stratified, "seed": self.seed, "folds": folds}


GroupMapping = Mapping[str, Any]  # source -> group, or group -> [sources]


def source_to_group(mapping: GroupMapping) -> dict[str, str]:
    """``{source: group}`` from either shape of ``cv.groups``: source -> group, or group -> list
    of sources (the shape a command line can write: Hydra overrides cannot quote dict keys, so
    outlet names with spaces go in the lists)."""
    values = list(mapping.values())
    if values and all(isinstance(v, (list, tuple)) for v in values):
        out: dict[str, str] = {}
        for group, members in mapping.items():
            for source in members:
                if str(source) in out and out[str(source)] != str(group):
                    raise ConfigError(f"cv.groups puts source {str(source)!r} in two groups "
                                      f"({out[str(source)]!r} and {str(group)!r})")
                out[str(source)] = str(group)
        return out
    if any(isinstance(v, (list, tuple, Mapping)) for v in values):
        raise ConfigError("cv.groups must map every source to a group name, or every group to a list "
                          "of sources, not a mix")
    return {str(k): str(v) for k, v in mapping.items()}


def row_groups(
    frame: pd.DataFrame,
    by: str,
    column: str | None = None,
    mapping: GroupMapping | None = None,
) -> np.ndarray:
    """The group id of every row for ``by`` (article id, source, or outlet group).

    For ``by="source_group"`` exactly one of ``column`` (a column of ``frame`` holding each
    sentence's group) or ``mapping`` (source -> group, or group -> list of sources:
    :func:`source_to_group`) must be given; every row needs a group and an article's sentences
    must share one. Raises :class:`~stance.errors.ConfigError` naming what to set otherwise.
    """
    if by not in CV_MODES:
        raise ConfigError(f"cv.by={by!r} is not one of {', '.join(CV_MODES)} (or none)")
    if by == "article":
        return frame["article_id"].astype(str).to_numpy(dtype=object)
    if by == "source":
        return frame["source"].astype(str).to_numpy(dtype=object)
    if column and mapping:
        raise ConfigError("cv=source_group: give cv.column or cv.groups, not both")
    if not column and not mapping:
        raise ConfigError(
            "cv=source_group needs outlet groups and the data carries none: set cv.column to a "
            "column of the sentence table that holds each sentence's group, or cv.groups to a "
            "mapping source -> group in a config file, or group -> sources on the command line "
            "(e.g. 'cv.groups={state: [\"Outlet A\", \"Outlet B\"], private: [\"Outlet C\"]}'); "
            f"the sentence table has columns {', '.join(map(str, frame.columns))}"
        )
    if column:
        if column not in frame.columns:
            raise ConfigError(f"cv.column={column!r} is not a column of the sentence table; it has "
                              f"{', '.join(map(str, frame.columns))}")
        values = frame[column]
        missing = values.isna()
        if missing.any():
            ex = frame.loc[missing, "article_id"].iloc[0]
            raise ConfigError(f"cv.column={column!r} is empty for {int(missing.sum())} sentence(s), "
                              f"e.g. in article {ex}: every sentence needs a group")
        groups = values.astype(str)
        mixed = groups.groupby(frame["article_id"].to_numpy()).nunique()
        mixed = mixed[mixed > 1]
        if len(mixed):
            some = ", ".join(map(str, mixed.index[:5]))
            raise ConfigError(f"cv.column={column!r} differs within article(s) {some}: "
                              "an article's sentences must share one group")
        return groups.to_numpy(dtype=object)
    assert mapping is not None
    mapping = source_to_group(mapping)
    sources = sorted(frame["source"].astype(str).unique())
    unmapped = [s for s in sources if s not in mapping]
    if unmapped:
        raise ConfigError(f"cv.groups has no group for source(s) {', '.join(map(repr, unmapped))}: map every "
                          f"source of the train+validation data ({len(sources)}: {', '.join(sources)})")
    return frame["source"].astype(str).map(mapping).to_numpy(dtype=object)


def make_folds(
    frame: pd.DataFrame,
    by: str,
    k: int | None = 5,
    seed: int = 0,
    stratify: bool = True,
    column: str | None = None,
    mapping: GroupMapping | None = None,
) -> Folds:
    """Assign every row of ``frame`` to one of ``k`` folds of whole groups (see :func:`row_groups`).

    ``by="source_group"`` (and ``k=None`` for the other modes) gives one fold per group
    (``LeaveOneGroupOut``). Otherwise ``k`` folds: ``StratifiedGroupKFold`` on the ``label``
    column when ``stratify``, else, or when stratifying leaves a fold empty, ``GroupKFold``
    shuffled with ``seed``. ``StratifiedGroupKFold`` uses ``seed`` only to break ties between
    groups with the same label spread, so for outlets with distinct label mixes its folds are
    the same for every seed: use ``stratify=False`` for folds that vary with the seed. Raises :class:`~stance.errors.ConfigError` for ``k`` below 2 or above
    the number of groups.
    """
    if frame.empty:
        raise ConfigError("cross-validation needs labelled train/validation sentences; there are none")
    groups = row_groups(frame, by, column=column, mapping=mapping)
    n_groups = len(set(groups))
    unit = _UNIT[by]
    if n_groups < 2:
        raise ConfigError(f"cv={by}: the train+validation data has a single {unit} ({groups[0]!r}); "
                          "cross-validation needs at least two")
    index = np.arange(len(frame))
    fold = np.full(len(frame), -1, dtype=np.int64)
    stratified = False
    if by == "source_group" or k is None:
        splits = list(LeaveOneGroupOut().split(index, groups=groups))
    else:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ConfigError(f"cv.k={k!r} must be an integer >= 2 (or null: one fold per {unit})")
        if k > n_groups:
            raise ConfigError(f"cv.k={k} but the train+validation data has only {n_groups} {unit}s; "
                              f"set cv.k <= {n_groups} (or cv.k=null: one fold per {unit})")
        splits = []
        if stratify:
            with warnings.catch_warnings():  # "the least populated class has only N members"
                warnings.simplefilter("ignore", UserWarning)
                skf = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=seed)
                splits = list(skf.split(index, frame["label"].astype(str).to_numpy(), groups))
            stratified = all(len(test) for _, test in splits)
        if not stratified:
            # GroupKFold shuffles from scikit-learn 1.6 on; before, its assignment is deterministic
            shuffles = "shuffle" in inspect.signature(GroupKFold).parameters
            kw = {"shuffle": True, "random_state": seed} if shuffles else {}
            splits = list(GroupKFold(n_splits=int(k), **kw).split(index, groups=groups))
    for i, (_, test) in enumerate(splits):
        fold[test] = i
    assert (fold >= 0).all()
    # number folds by their smallest row so the numbering does not depend on sklearn's order
    order = {f: j for j, f in enumerate(dict.fromkeys(fold.tolist()))}
    fold = np.array([order[f] for f in fold.tolist()], dtype=np.int64)
    return Folds(by=by, fold=fold, group=groups, stratified=stratified, seed=int(seed))


def inner_split(frame: pd.DataFrame, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on and rows to validate on (early stopping, calibration) within the training
    folds: a ``fraction`` of the articles (``GroupShuffleSplit`` by ``article_id``), so no
    article is in both. With under 2 articles or ``fraction == 0`` everything is fitted on."""
    rows = np.arange(len(frame))
    articles = frame["article_id"].astype(str).to_numpy()
    if fraction <= 0 or len(set(articles)) < 2:
        return rows, rows[:0]
    gss = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    fit, val = next(gss.split(rows, groups=articles))
    return np.sort(fit), np.sort(val)
