"""Pure statistics of a scored corpus (stance.evaluation.corpus), checked against hand counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stance.evaluation.bias import corrected_source_table
from stance.evaluation.corpus import (
    ALL_SOURCES,
    align_outputs,
    check_period,
    compare_labelings,
    corrected_intervals,
    disagreement_sample,
    evidence_sentences,
    period_table,
)
from stance.resources import bundled_scheme
from tests.schemes import PAK

PI, PK, NE = PAK.label_list


def _frame(rows):
    """rows: (source, article, label, confidence, attributed)."""
    out = []
    for i, (src, art, lab, conf, att) in enumerate(rows):
        rest = (1 - conf) / 2
        out.append({"source": src, "article_id": art, "sentence_id": f"{art}-{i:03d}", "text": f"text {i}",
                    "label": lab, **{f"proba_{c}": conf if c == lab else rest for c in PAK.label_list},
                    "attributed": att, "speaker_side": "kabul" if att else None})
    return pd.DataFrame(out)


ROWS = [
    ("A", "a1", PI, 0.9, False), ("A", "a1", PI, 0.7, True), ("A", "a1", NE, 0.6, False),
    ("A", "a2", PK, 0.8, False), ("A", "a2", PI, 0.95, False),
    ("A", "a3", PK, 0.6, False),
    ("B", "b1", PK, 0.9, False), ("B", "b1", PK, 0.8, False),
]
DATES = {"a1": "2025-10-06", "a2": "2025-10-08T10:00:00+05:00", "a3": "2025-10-14", "b1": None}


def test_period_table_by_week_matches_hand_counts():
    res = period_table(_frame(ROWS), DATES, PAK, period="W", n_boot=200)
    assert (res.n_articles, res.n_dated, res.n_undated, res.n_bad_dates) == (4, 3, 1, 0)
    t = res.table.set_index(["source", "period"])
    w1, w2 = res.periods
    assert w1 == "2025-10-06/2025-10-12" and w2 == "2025-10-13/2025-10-19"
    # week 1 of A: articles a1, a2 -> 3 PI, 1 PK of 5 sentences
    r = t.loc[("A", w1)]
    assert (r["n_articles"], r["n_sentences"]) == (2, 5) and r["slant"] == pytest.approx((3 - 1) / 5)
    assert r["slant_low"] <= r["slant"] <= r["slant_high"]
    one = t.loc[("A", w2)]  # one article: no interval
    assert one["n_articles"] == 1 and one["slant"] == -1.0 and math.isnan(one["slant_low"])
    assert t.loc[(ALL_SOURCES, w1), "n_articles"] == 2  # B's article is undated
    assert "B" not in set(res.table["source"])


def test_period_table_counts_unreadable_dates_and_checks_the_period():
    res = period_table(_frame(ROWS), {**DATES, "a3": "last tuesday"}, PAK, period="M", n_boot=20)
    assert res.n_bad_dates == 1 and "a3: 'last tuesday'" in res.bad_examples[0]
    assert res.periods == ["2025-10"]
    empty = period_table(_frame(ROWS), {}, PAK, n_boot=20)
    assert empty.n_dated == 0 and empty.table.empty and empty.n_undated == 4
    with pytest.raises(ValueError, match="period 'fortnight'"):
        check_period("fortnight")


def test_a_period_without_articles_is_listed_but_has_no_row():
    res = period_table(_frame(ROWS), {"a1": "2025-10-06", "a3": "2025-10-21"}, PAK, period="W", n_boot=20)
    assert len(res.periods) == 3 and res.periods[1] == "2025-10-13/2025-10-19"
    assert res.periods[1] not in set(res.table["period"])
    assert (res.first.date().isoformat(), res.last.date().isoformat()) == ("2025-10-06", "2025-10-21")


def test_period_table_without_poles_gives_label_shares():
    frames = bundled_scheme("frames5")
    labs = frames.label_list
    df = pd.DataFrame({"source": ["A"] * 4, "article_id": ["a1", "a1", "a2", "a2"],
                       "label": [labs[0], labs[1], labs[0], labs[0]]})
    res = period_table(df, {"a1": "2025-01-01", "a2": "2025-01-02"}, frames, period="W", n_boot=50)
    r = res.table.iloc[0]
    assert r[f"share_{labs[0]}"] == pytest.approx(0.75) and "slant" not in res.table.columns


def test_evidence_picks_the_most_confident_sentences_of_each_label():
    ev = evidence_sentences(_frame(ROWS), {"A": [PI, PK]}, per_label=2)
    pi = ev[ev["label"] == PI]
    assert list(pi["confidence"]) == [0.95, 0.9] and list(pi["rank"]) == [1, 2] and set(pi["n_label"]) == {3}
    pk = ev[ev["label"] == PK]
    assert list(pk["confidence"]) == [0.8, 0.6] and list(pk["article_id"]) == ["a2", "a3"]
    with pytest.raises(ValueError, match="proba_nope"):
        evidence_sentences(_frame(ROWS), {"A": ["nope"]})


def test_corrected_intervals_point_is_that_of_corrected_source_table():
    df = _frame(ROWS)
    cm = [[8, 1, 1], [1, 8, 1], [1, 1, 8]]
    got = corrected_intervals(df, cm, PAK, n_boot=100).set_index("source")
    ref = corrected_source_table(df, "label", cm, PAK).set_index("source")
    assert got.loc["A", "adj_slant"] == pytest.approx(ref.loc["A", "adj_slant"])
    # A: 3 PI, 2 PK, 1 NE of 6: corrected shares (q - 0.1) / 0.7
    assert got.loc["A", "adj_slant"] == pytest.approx((3 / 6 - 2 / 6) / 0.7)
    assert got.loc["A", "adj_slant_low"] <= got.loc["A", "adj_slant"] <= got.loc["A", "adj_slant_high"]


def test_alignment_and_agreement_by_hand():
    a = _frame(ROWS)
    b = a.copy()
    b.loc[0, "label"] = PK  # one disagreement in A
    b.loc[1, "text"] = "re-cleaned"  # same id, other text: left out
    b = b.drop(index=7)  # not scored by B
    al = align_outputs(a, b, PAK.label_list)
    assert al.to_dict() == {"n_a": 8, "n_b": 7, "n_common": 6, "only_a": 2, "only_b": 1, "text_mismatch": 1}
    res = compare_labelings(al.frame, PAK, min_sentences=1, min_articles=1, n_boot=200)
    assert res["overall"]["agreement"] == pytest.approx(5 / 6)
    from sklearn.metrics import cohen_kappa_score

    fr = al.frame
    assert res["overall"]["kappa"] == pytest.approx(cohen_kappa_score(fr["label_a"], fr["label_b"]))
    ps = res["per_source"].set_index("source")
    # A in the intersection: a1 [PI, NE], a2 [PK, PI], a3 [PK]; B has PK for the first
    assert ps.loc["A", "slant_a"] == pytest.approx((2 - 2) / 5)
    assert ps.loc["A", "slant_b"] == pytest.approx((1 - 3) / 5)
    assert ps.loc["A", "diff"] == pytest.approx(0.4) and ps.loc["A", "agreement"] == pytest.approx(4 / 5)
    assert math.isnan(ps.loc["B", "diff_low"])  # one article: no interval
    sample = disagreement_sample(al.frame, n=5)
    assert len(sample) == 1 and sample.iloc[0]["label_a"] == PI and sample.iloc[0]["label_b"] == PK


def test_comparison_refuses_empty_and_duplicate_inputs():
    a = _frame(ROWS)
    with pytest.raises(ValueError, match="repeats sentence id"):
        align_outputs(pd.concat([a, a.iloc[:1]]), a, PAK.label_list)
    with pytest.raises(ValueError, match="share no sentences"):
        compare_labelings(align_outputs(a, a.assign(sentence_id="x" + a["sentence_id"]), PAK.label_list).frame, PAK)
    np.testing.assert_equal(len(disagreement_sample(align_outputs(a, a, PAK.label_list).frame)), 0)
