"""Hand-worked checks of the per-source bias measures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stance.evaluation.bias import (
    adjusted_shares,
    corrected_source_table,
    gold_vs_pred_by_source,
    jensen_shannon,
    slant_index,
    source_bias_table,
    stance_distribution,
)
from stance.scheme import Scheme
from tests.schemes import LABELS, PAK

PI, PK, NE = LABELS
N_BOOT = 200


def _rows(source, article, label, attributed=False, side=None, n=1):
    return [
        {
            "source": source,
            "article_id": article,
            "label": label,
            "attributed": attributed,
            "speaker_side": side,
        }
    ] * n


def _frame() -> pd.DataFrame:
    rows = []
    # A: 3 articles x (2 unattributed PI + 1 attributed PK quoted from kabul)
    #    n=9, PI 6, PK 3 -> slant 3/9; editorial 1.0; quoted -1.0; voice kabul 1.0
    for art in ("a1", "a2", "a3"):
        rows += _rows("A", art, PI, n=2)
        rows += _rows("A", art, PK, True, "kabul")
    # B: 2 articles x (1 unattributed NE, attributed: PI by islamabad, NE by third party,
    #    PK by an unresolved speaker) -> n=8, PI 2, PK 2, NE 4 -> slant 0; editorial 0
    #    (neutral only); quoted (2-2)/6 = 0; voice islamabad/third_party/unresolved 1/3 each
    for art in ("b1", "b2"):
        rows += _rows("B", art, NE)
        rows += _rows("B", art, PI, True, "islamabad")
        rows += _rows("B", art, NE, True, "third_party")
        rows += _rows("B", art, PK, True, None)
    # C: 4 articles x (1 unattributed PK + 1 unattributed NE) -> n=8, slant -0.5,
    #    editorial -0.5, no attributed sentences -> quoted slant and voices NaN
    for art in ("c1", "c2", "c3", "c4"):
        rows += _rows("C", art, PK)
        rows += _rows("C", art, NE)
    # D: 1 article with 3 PI -> slant 1.0 but too few sentences/articles
    rows += _rows("D", "d1", PI, n=3)
    return pd.DataFrame(rows)


def test_slant_index() -> None:
    labels = [PI] * 3 + [PK] + [NE] * 4  # (3 - 1) / 8
    assert slant_index(labels, PAK) == pytest.approx(0.25)
    assert slant_index([PK, PK], PAK) == -1.0
    assert slant_index([NE], PAK) == 0.0
    assert math.isnan(slant_index([], PAK))
    with pytest.raises(ValueError, match="unknown label"):
        slant_index([PI, "pro_delhi"], PAK)


def test_jensen_shannon() -> None:
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0)
    assert jensen_shannon([2, 2], [1, 1]) == pytest.approx(0.0)  # weights are normalised
    # p=[1,0], q=[.5,.5], m=[.75,.25]: KL(p|m) = log2(4/3) = 0.415037,
    # KL(q|m) = .5 log2(2/3) + .5 log2(2) = 0.207519 -> JS = 0.311278
    assert jensen_shannon([1, 0], [0.5, 0.5]) == pytest.approx(0.311278, abs=1e-6)
    assert jensen_shannon([0.5, 0.5], [1, 0]) == pytest.approx(0.311278, abs=1e-6)
    with pytest.raises(ValueError, match="equal length"):
        jensen_shannon([1, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        jensen_shannon([1, -1], [1, 0])
    with pytest.raises(ValueError, match="not all zero"):
        jensen_shannon([0, 0], [1, 0])


def test_stance_distribution() -> None:
    df = _frame()
    dist = stance_distribution(df, PAK, n_boot=N_BOOT).set_index("source")
    assert list(dist.index) == ["A", "B", "C", "D"]
    assert dist.loc["A", "n_sentences"] == 9 and dist.loc["A", "n_articles"] == 3
    assert dist.loc["C", "n_articles"] == 4
    assert dist.loc["A", f"share_{PI}"] == pytest.approx(6 / 9)
    assert dist.loc["B", f"share_{NE}"] == pytest.approx(4 / 8)
    assert dist.loc["C", f"share_{PK}"] == pytest.approx(0.5)
    for label in LABELS:
        share = dist[f"share_{label}"]
        assert (dist[f"share_{label}_low"] <= share + 1e-12).all()
        assert (share <= dist[f"share_{label}_high"] + 1e-12).all()
    # A's articles are identical, so every article resample gives the same shares
    assert dist.loc["A", f"share_{PI}_low"] == pytest.approx(6 / 9)
    assert dist.loc["A", f"share_{PI}_high"] == pytest.approx(6 / 9)
    # D has a single article: degenerate interval
    assert dist.loc["D", f"share_{PI}_low"] == dist.loc["D", f"share_{PI}_high"] == 1.0
    again = stance_distribution(df, PAK, n_boot=N_BOOT).set_index("source")
    pd.testing.assert_frame_equal(dist, again)


def test_stance_distribution_ci_varies_across_articles() -> None:
    # two articles: one all PI, one all NE -> share PI 0.5, resamples give 0, 0.5 or 1
    df = pd.DataFrame(
        _rows("S", "x", PI, n=5) + _rows("S", "y", NE, n=5),
    )
    row = stance_distribution(df, PAK, n_boot=N_BOOT).iloc[0]
    assert row[f"share_{PI}"] == 0.5
    assert row[f"share_{PI}_low"] == 0.0 and row[f"share_{PI}_high"] == 1.0


def test_source_bias_table_hand_made() -> None:
    table = source_bias_table(_frame(), PAK, min_sentences=5, min_articles=2, n_boot=N_BOOT)
    t = table.set_index("source")
    assert list(t.index) == ["A", "B", "C", "D"]
    # sizes
    assert t.loc["A", ["n_sentences", "n_articles", "n_attributed"]].tolist() == [9, 3, 3]
    assert t.loc["B", ["n_sentences", "n_articles", "n_attributed"]].tolist() == [8, 2, 6]
    # slant over all sentences
    assert t.loc["A", "slant"] == pytest.approx(1 / 3)
    assert t.loc["B", "slant"] == pytest.approx(0.0)
    assert t.loc["C", "slant"] == pytest.approx(-0.5)
    assert t.loc["D", "slant"] == pytest.approx(1.0)
    assert t.loc["A", "share_pro_islamabad"] == pytest.approx(6 / 9)
    # editorial vs quoted separation
    assert t.loc["A", "editorial_slant"] == 1.0
    assert t.loc["A", "quoted_slant"] == -1.0
    assert t.loc["A", "editorial_slant_low"] == t.loc["A", "editorial_slant_high"] == 1.0
    assert t.loc["A", "quoted_slant_low"] == t.loc["A", "quoted_slant_high"] == -1.0
    assert t.loc["B", "editorial_slant"] == 0.0 and t.loc["B", "quoted_slant"] == 0.0
    assert t.loc["C", "editorial_slant"] == pytest.approx(-0.5)
    assert math.isnan(t.loc["C", "quoted_slant"])
    assert math.isnan(t.loc["C", "quoted_slant_low"]) and math.isnan(
        t.loc["C", "quoted_slant_high"]
    )
    assert t.loc["A", "slant_low"] <= t.loc["A", "slant"] <= t.loc["A", "slant_high"]
    # voice balance among attributed sentences
    voices = ["voice_islamabad", "voice_kabul", "voice_third_party", "voice_unresolved"]
    assert t.loc["A", voices].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert t.loc["B", voices].astype(float).tolist() == pytest.approx([1 / 3, 0.0, 1 / 3, 1 / 3])
    assert t.loc["C", voices].isna().all()
    # support and ranking: D has the highest slant but only 3 sentences in 1 article
    assert t["low_support"].tolist() == [False, False, False, True]
    assert t.loc["A", "rank"] == 1 and t.loc["B", "rank"] == 2 and t.loc["C", "rank"] == 3
    assert math.isnan(t.loc["D", "rank"])
    # JS divergence from the pooled distribution (PI 11, PK 9, NE 8 of 28)
    pooled = [11, 9, 8]
    assert t.loc["C", "js_divergence"] == pytest.approx(jensen_shannon([0, 4, 4], pooled))
    assert t.loc["D", "js_divergence"] > t.loc["B", "js_divergence"] > 0


def test_source_bias_table_min_sentences_threshold() -> None:
    # B and C have 8 sentences; with min_sentences=9 only A is ranked
    t = source_bias_table(_frame(), PAK, min_sentences=9, min_articles=1, n_boot=20).set_index("source")
    assert t["low_support"].tolist() == [False, True, True, True]
    assert t.loc["A", "rank"] == 1
    assert t["rank"].isna().sum() == 3


def test_source_bias_table_ties_share_rank() -> None:
    df = pd.concat([_frame(), _frame().assign(source=lambda d: d["source"] + "2")])
    t = source_bias_table(df, PAK, min_sentences=5, min_articles=2, n_boot=20).set_index("source")
    assert t.loc["A", "rank"] == t.loc["A2", "rank"] == 1
    assert t.loc["B", "rank"] == t.loc["B2", "rank"] == 3


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.drop(columns="speaker_side"), "missing column"),
        (lambda d: d.iloc[:0], "no rows"),
        (lambda d: d.assign(label=d["label"].replace(PI, "pro_delhi")), "unknown label"),
        (lambda d: d.assign(speaker_side="mars"), "unknown speaker_side"),
        (lambda d: d.assign(attributed=None), "attributed"),
        (lambda d: d.assign(article_id=None), "article_id"),
    ],
)
def test_source_bias_table_bad_frames(mutate, match) -> None:
    with pytest.raises(ValueError, match=match):
        source_bias_table(mutate(_frame()), PAK, n_boot=10)


def test_source_bias_table_without_poles_has_distributions_not_slant() -> None:
    no_poles = Scheme("no_poles", [PI, PK, NE], sides=dict.fromkeys(PAK.side_names))
    plain = source_bias_table(_frame(), no_poles, min_sentences=5, min_articles=2, n_boot=N_BOOT).set_index("source")
    full = source_bias_table(_frame(), PAK, min_sentences=5, min_articles=2, n_boot=N_BOOT).set_index("source")
    assert not {"slant", "editorial_slant", "quoted_slant", "rank"} & set(plain.columns)
    shared = [c for c in plain.columns if c in full.columns]
    assert len(shared) == len(plain.columns)
    pd.testing.assert_frame_equal(plain[shared], full[shared])
    # over-representation = share minus the pooled share of all sources
    pooled = _frame()["label"].value_counts(normalize=True)
    for lab in (PI, PK, NE):
        assert plain[f"over_{lab}"].to_numpy() == pytest.approx(plain[f"share_{lab}"].to_numpy() - pooled[lab])
        assert (plain[f"share_{lab}_low"] <= plain[f"share_{lab}"] + 1e-12).all()
    with pytest.raises(ValueError, match="no poles"):
        slant_index([PI], no_poles)
    with pytest.raises(ValueError, match="n_boot"):
        source_bias_table(_frame(), PAK, n_boot=0)


# Exact adjusted classify-and-count: P(pred | true) rows
#   PI: [.8, .2, 0], PK: [0, 1, 0], NE: [0, 0, 1]; true shares t = [.5, .25, .25]
#   observed = P^T t = [.4, .1 + .25, .25] = [.40, .35, .25]
EXACT_CONFUSION = [[8, 2, 0], [0, 10, 0], [0, 0, 10]]
EXACT_PREDS = [PI] * 40 + [PK] * 35 + [NE] * 25


def test_adjusted_shares_exact_case() -> None:
    adj = adjusted_shares(EXACT_PREDS, EXACT_CONFUSION, PAK)
    assert adj == pytest.approx({PI: 0.5, PK: 0.25, NE: 0.25})
    # identity confusion leaves the observed shares unchanged
    ident = adjusted_shares(EXACT_PREDS, np.eye(3) * 5, PAK)
    assert ident == pytest.approx({PI: 0.40, PK: 0.35, NE: 0.25})


def test_adjusted_shares_recovers_simulated_truth() -> None:
    rng = np.random.default_rng(12345)
    truth = np.array([0.2, 0.1, 0.7])
    # simulated classifier, rows P(pred = j | true = i)
    p = np.array([[0.75, 0.05, 0.20], [0.05, 0.70, 0.25], [0.12, 0.12, 0.76]])
    # expected raw predicted shares P^T truth:
    #   PI = .2*.75 + .1*.05 + .7*.12 = .239   (truth .2, off .039)
    #   PK = .2*.05 + .1*.70 + .7*.12 = .164   (truth .1, off .064)
    #   NE = .2*.20 + .1*.25 + .7*.76 = .597   (truth .7, off .103)

    def classify(true: np.ndarray) -> np.ndarray:
        u = rng.random(len(true))[:, None]
        return (u > np.cumsum(p[true], axis=1)).sum(axis=1)

    val_true = np.repeat(np.arange(3), 20_000)  # validation set, 20k per class
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (val_true, classify(val_true)), 1)

    true = rng.choice(3, size=50_000, p=truth)
    pred = classify(true)
    raw = np.bincount(pred, minlength=3) / len(pred)
    assert abs(raw[1] - truth[1]) > 0.05 and abs(raw[2] - truth[2]) > 0.05

    adj = adjusted_shares([LABELS[j] for j in pred], confusion, PAK)
    assert sum(adj.values()) == pytest.approx(1.0)
    for label, share in zip(LABELS, truth, strict=True):
        assert adj[label] == pytest.approx(share, abs=0.02)


@pytest.mark.parametrize(
    ("preds", "confusion", "match"),
    [
        (EXACT_PREDS, [[1, 0], [0, 1]], "3x3"),
        (EXACT_PREDS, [[8, 2, 0], [0, 0, 0], [0, 0, 10]], "sums to 0"),
        (EXACT_PREDS, [[8, -2, 0], [0, 10, 0], [0, 0, 10]], "non-negative"),
        ([], EXACT_CONFUSION, "must not be empty"),
        ([PI, "pro_delhi"], EXACT_CONFUSION, "unknown label"),
    ],
)
def test_adjusted_shares_bad_args(preds, confusion, match) -> None:
    with pytest.raises(ValueError, match=match):
        adjusted_shares(preds, confusion, PAK)


def test_corrected_source_table() -> None:
    df = pd.DataFrame(
        {"source": ["X"] * 100 + ["Y"] * 10, "pred": EXACT_PREDS + [NE] * 10},
    )
    t = corrected_source_table(df, "pred", EXACT_CONFUSION, PAK).set_index("source")
    assert t.loc["X", "n_sentences"] == 100
    assert t.loc["X", [f"share_{x}" for x in LABELS]].astype(float).tolist() == pytest.approx(
        [0.40, 0.35, 0.25]
    )
    assert t.loc["X", "slant"] == pytest.approx(0.05)
    assert t.loc["X", [f"adj_share_{x}" for x in LABELS]].astype(float).tolist() == pytest.approx(
        [0.5, 0.25, 0.25]
    )
    assert t.loc["X", "adj_slant"] == pytest.approx(0.25)
    # only neutral predicted -> P^T t = [0, 0, 1] is solved by t = [0, 0, 1]
    assert t.loc["Y", f"adj_share_{NE}"] == pytest.approx(1.0)
    assert t.loc["Y", "adj_slant"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="missing column"):
        corrected_source_table(df, "prediction", EXACT_CONFUSION, PAK)


def test_gold_vs_pred_by_source() -> None:
    df = pd.DataFrame(
        {
            "source": ["S1", "S1", "S2", "S2", "S2", "S2"],
            "label": [PI, NE, PI, PI, PK, NE],
            "pred": [PI, NE, PI, NE, PK, NE],
        }
    )
    t = gold_vs_pred_by_source(df, PAK).set_index("source")
    # S1: perfect on the labels it contains (PK absent from gold and pred is not counted)
    assert t.loc["S1", "macro_f1"] == pytest.approx(1.0)
    assert t.loc["S1", "slant_error"] == 0.0
    # S2: PI P 1 R 1/2 F1 2/3; PK F1 1; NE P 1/2 R 1 F1 2/3 -> macro 7/9
    #     gold slant (2 - 1)/4 = .25, pred slant (1 - 1)/4 = 0 -> error -.25
    assert t.loc["S2", "n"] == 4
    assert t.loc["S2", "macro_f1"] == pytest.approx(7 / 9)
    assert t.loc["S2", "gold_slant"] == pytest.approx(0.25)
    assert t.loc["S2", "pred_slant"] == pytest.approx(0.0)
    assert t.loc["S2", "slant_error"] == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="unknown label"):
        gold_vs_pred_by_source(df.assign(pred="x"), PAK)


def test_share_intervals_match_row_level_cluster_bootstrap() -> None:
    # the count-based article bootstrap in stance_distribution draws the same articles as
    # cluster_bootstrap with the same seed, so both give the same interval
    from stance.evaluation.bootstrap import cluster_bootstrap

    rows = []
    for i in range(8):  # article i holds i PK and 3 NE sentences
        rows += _rows("S", f"s{i}", PK, n=i) + _rows("S", f"s{i}", NE, n=3)
    df = pd.DataFrame(rows)
    is_pk = (df["label"] == PK).to_numpy()
    ci = cluster_bootstrap(
        lambda r: float(is_pk[r].mean()), df["article_id"].tolist(), n_boot=N_BOOT, seed=5
    )
    assert ci.low < ci.estimate < ci.high
    row = stance_distribution(df, PAK, n_boot=N_BOOT, seed=5).iloc[0]
    assert (row[f"share_{PK}"], row[f"share_{PK}_low"], row[f"share_{PK}_high"]) == pytest.approx(
        (ci.estimate, ci.low, ci.high)
    )


# --------------------------------------------------------------------------- streaming counts


def _random_sentences(n: int, seed: int) -> pd.DataFrame:
    """Sentences of interleaved articles of five fictional outlets (articles recur out of order)."""
    rng = np.random.default_rng(seed)
    sides = [*PAK.side_names, None]
    return pd.DataFrame({
        "source": rng.choice(["Harbor Ledger", "Valley Courier", "North Gazette", "Plains Herald", "Ridge Observer"], n),
        "article_id": [f"art-{i}" for i in rng.integers(0, n // 6, n)],
        "label": rng.choice(LABELS, n),
        "attributed": rng.random(n) < 0.3,
        "speaker_side": [sides[i] for i in rng.integers(0, len(sides), n)],
    })


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_built_batch_by_batch_give_the_frame_tables(seed) -> None:
    from stance.evaluation.bias import (
        SourceCountsBuilder,
        corrected_from_counts,
        source_bias_from_counts,
    )

    df = _random_sentences(3000, seed)
    builder = SourceCountsBuilder(PAK)
    cuts = np.sort(np.random.default_rng(seed + 10).choice(np.arange(1, len(df)), 7, replace=False))
    for part in np.split(np.arange(len(df)), cuts):  # uneven batches
        b = df.iloc[part]
        builder.add(b["source"], b["article_id"], b["label"], b["attributed"], b["speaker_side"])
    counts = builder.result()
    assert builder.n_sentences == len(df)
    pd.testing.assert_frame_equal(
        source_bias_from_counts(counts, PAK, min_sentences=5, min_articles=2, n_boot=N_BOOT),
        source_bias_table(df, PAK, min_sentences=5, min_articles=2, n_boot=N_BOOT))
    pd.testing.assert_frame_equal(corrected_from_counts(counts, EXACT_CONFUSION, PAK),
                                  corrected_source_table(df, "label", EXACT_CONFUSION, PAK))


def test_counts_builder_validates_rows_like_the_frame_table() -> None:
    from stance.evaluation.bias import SourceCountsBuilder

    df = _random_sentences(60, 3)
    builder = SourceCountsBuilder(PAK)
    with pytest.raises(ValueError, match="unknown label"):
        builder.add(df["source"], df["article_id"], ["nonsense"] * len(df), df["attributed"], df["speaker_side"])
    with pytest.raises(ValueError, match="'article_id' has missing values"):
        builder.add(df["source"], [None] * len(df), df["label"], df["attributed"], df["speaker_side"])
    with pytest.raises(ValueError, match="unknown speaker_side"):
        builder.add(df["source"], df["article_id"], df["label"], df["attributed"], ["mars"] * len(df))
