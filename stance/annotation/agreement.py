"""Inter-annotator agreement and a label-issue audit of gold data.

* :func:`cohen_kappa` / :func:`pairwise_kappa` -- Cohen's kappa for each pair of annotators on
  the sentences both labelled: ``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from each annotator's
  own label distribution.
* :func:`krippendorff_alpha` -- nominal Krippendorff's alpha over all annotators (missing
  annotations allowed), computed with the ``krippendorff`` package.
* :func:`agreement_report` -- both, overall and per class (one-vs-rest: "is it ``c`` or
  not"), as a DataFrame.
* :func:`audit_label_issues` -- ``cleanlab.filter.find_label_issues`` on out-of-fold predicted
  probabilities of the TF-IDF classifier, with folds grouped by article (``GroupKFold``) so
  that no sentence is scored by a model that saw its own article.

Records are :class:`~stance.data.annotations.Annotation` objects (as read by
:mod:`stance.annotation.exchange`) or a DataFrame with ``sentence_id``, ``label``,
``annotator``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from stance.data.annotations import Annotation
from stance.metrics import cohen_kappa

__all__ = [
    "agreement_report",
    "annotation_matrix",
    "audit_label_issues",
    "cohen_kappa",
    "krippendorff_alpha",
    "out_of_fold_proba",
    "pairwise_kappa",
]


def _frame(records: Iterable[Annotation] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        df = records
    else:
        df = pd.DataFrame([{"sentence_id": r.sentence_id, "label": r.label, "annotator": r.annotator}
                           for r in records], columns=["sentence_id", "label", "annotator"])
    missing = {"sentence_id", "label", "annotator"} - set(df.columns)
    if missing:
        raise ValueError(f"annotation records lack {sorted(missing)}")
    if df["annotator"].isna().any():
        raise ValueError("every annotation record needs an annotator id for agreement")
    return df


def annotation_matrix(records: Iterable[Annotation] | pd.DataFrame) -> pd.DataFrame:
    """Sentences x annotators table of labels (None where an annotator did not label).

    A sentence labelled twice by the same annotator keeps the last label.
    """
    df = _frame(records)
    m = df.drop_duplicates(["sentence_id", "annotator"], keep="last").pivot(
        index="sentence_id", columns="annotator", values="label")
    return m.astype(object).where(m.notna(), None)


def pairwise_kappa(records: Iterable[Annotation] | pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Cohen's kappa and observed agreement for every pair of annotators (shared sentences)."""
    m = annotation_matrix(records)
    rows = []
    for x, y in combinations(m.columns, 2):
        both = m[[x, y]].dropna()
        a, b = both[x].tolist(), both[y].tolist()
        rows.append({
            "annotator_a": x, "annotator_b": y, "n_items": len(both),
            "observed_agreement": float(np.mean([p == q for p, q in zip(a, b, strict=True)])) if a else float("nan"),
            "kappa": cohen_kappa(a, b, labels),
        })
    return pd.DataFrame(rows, columns=["annotator_a", "annotator_b", "n_items", "observed_agreement", "kappa"])


def krippendorff_alpha(records: Iterable[Annotation] | pd.DataFrame, labels: Sequence[str]) -> float:
    """Nominal Krippendorff's alpha over all annotators (the ``krippendorff`` package).

    NaN when fewer than two annotations share a sentence or only one value occurs.
    """
    import krippendorff

    m = annotation_matrix(records)
    return _alpha(krippendorff, m, list(labels))


def _alpha(krippendorff: Any, m: pd.DataFrame, values: list[Any]) -> float:
    pos = {v: i for i, v in enumerate(values)}
    data = np.array([[pos[v] if v is not None else np.nan for v in m[c]] for c in m.columns], dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() == 0 or len(np.unique(data[:, pairable][~np.isnan(data[:, pairable])])) < 2:
        return float("nan")
    try:
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal",
                                        value_domain=list(range(len(values)))))
    except (ValueError, ZeroDivisionError):
        return float("nan")


def agreement_report(records: Iterable[Annotation] | pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Krippendorff's alpha and mean pairwise Cohen's kappa, overall and per class (one-vs-rest).

    Columns: ``scope`` (``overall`` or a label), ``n_items`` (sentences with >= 2
    annotations), ``n_annotators``, ``observed_agreement`` (share of annotator pairs that
    agree, over shared sentences), ``alpha``, ``mean_kappa``.
    """
    import krippendorff

    df = _frame(records)
    m = annotation_matrix(df)
    n_items = int((m.notna().sum(axis=1) >= 2).sum())
    rows = []
    for scope in ["overall", *labels]:
        if scope == "overall":
            mm, vals, labs = m, list(labels), list(labels)
        else:
            mm = m.apply(lambda col, c=scope: col.map(lambda v: None if v is None else v == c))
            vals, labs = [False, True], [False, True]
        pk = pairwise_kappa_matrix(mm, labs)
        rows.append({
            "scope": scope, "n_items": n_items, "n_annotators": int(m.shape[1]),
            "observed_agreement": _pair_agreement(mm),
            "alpha": _alpha(krippendorff, mm, vals),
            "mean_kappa": float(np.nanmean(pk)) if len(pk) and not np.all(np.isnan(pk)) else float("nan"),
        })
    return pd.DataFrame(rows, columns=["scope", "n_items", "n_annotators", "observed_agreement", "alpha", "mean_kappa"])


def pairwise_kappa_matrix(m: pd.DataFrame, labels: Sequence[Any]) -> list[float]:
    """Kappa of every annotator pair of a sentences x annotators matrix."""
    out = []
    for x, y in combinations(m.columns, 2):
        both = m[[x, y]].dropna()
        if len(both):
            out.append(cohen_kappa(both[x].tolist(), both[y].tolist(), labels))
    return out


def _pair_agreement(m: pd.DataFrame) -> float:
    agree = total = 0
    for row in m.itertuples(index=False):
        vals = [v for v in row if v is not None]
        for a, b in combinations(vals, 2):
            total += 1
            agree += a == b
    return agree / total if total else float("nan")


# --------------------------------------------------------------------------- label audit


def out_of_fold_proba(
    sentences: pd.DataFrame,
    n_splits: int = 5,
    classifier_params: Mapping[str, Any] | None = None,
    *,
    labels: Sequence[str],
) -> np.ndarray:
    """Out-of-fold TF-IDF probabilities, folds grouped by ``article_id`` (sklearn GroupKFold)."""
    from sklearn.model_selection import GroupKFold

    from stance.models.tfidf import TfidfClassifier

    groups = sentences["article_id"].to_numpy()
    k = min(int(n_splits), len(set(groups)))
    if k < 2:
        raise ValueError("the label audit needs gold labels from at least two articles")
    texts = sentences["text"].tolist()
    y = sentences["label"].tolist()
    proba = np.zeros((len(sentences), len(labels)))
    for train_idx, test_idx in GroupKFold(n_splits=k).split(texts, y, groups):
        clf = TfidfClassifier(**{**dict(classifier_params or {}), "labels": list(labels)})
        clf.fit([texts[i] for i in train_idx], [y[i] for i in train_idx])
        proba[test_idx] = clf.predict_proba([texts[i] for i in test_idx])
    return proba


def audit_label_issues(
    sentences: pd.DataFrame,
    n_splits: int = 5,
    classifier_params: Mapping[str, Any] | None = None,
    *,
    labels: Sequence[str],
    filter_by: str = "prune_by_noise_rate",
) -> pd.DataFrame:
    """Gold labels that cleanlab flags as likely wrong, most suspicious first.

    Uses :func:`out_of_fold_proba` (TF-IDF, article-grouped folds) and
    ``cleanlab.filter.find_label_issues(..., return_indices_ranked_by="self_confidence")``.

    Returns one row per flagged sentence: its id columns, ``text``, ``label`` (gold),
    ``suggested_label`` (the out-of-fold prediction), ``self_confidence`` (the out-of-fold
    probability of the gold label) and ``issue_rank`` (1 = most suspicious). ``attrs["n_checked"]``
    holds the number of gold sentences audited.
    """
    from cleanlab.filter import find_label_issues

    df = sentences[sentences["label"].notna()].reset_index(drop=True)
    if "duplicate_of" in df.columns:
        df = df[df["duplicate_of"].isna()].reset_index(drop=True)
    labels = list(labels)
    proba = out_of_fold_proba(df, n_splits, classifier_params, labels=labels)
    y = np.array([labels.index(v) for v in df["label"]])
    ranked = find_label_issues(labels=y, pred_probs=proba, filter_by=filter_by,
                               return_indices_ranked_by="self_confidence")
    keep = [c for c in ("sentence_id", "article_id", "source", "split", "text", "label") if c in df.columns]
    out = df.loc[ranked, keep].copy()
    out["suggested_label"] = [labels[i] for i in proba[ranked].argmax(axis=1)]
    out["self_confidence"] = proba[ranked, y[ranked]]
    out["issue_rank"] = np.arange(1, len(ranked) + 1)
    out = out.reset_index(drop=True)
    out.attrs["n_checked"] = len(df)
    return out
