"""Shortcut audit, pure logic (stance.data.audit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stance.data.audit import (
    CELL_FLOOR,
    AuditSettings,
    audit_terms,
    beta_log_odds,
    count_terms,
    normalise_term,
    pole_asymmetry,
    score_terms,
)
from stance.errors import ConfigError, InputError

LABELS = ["pro_a", "neutral", "pro_b"]
UNIGRAMS = AuditSettings(ngram_range=(1, 1), min_count=3)


def corpus() -> pd.DataFrame:
    """30 sentences per label. 'border' is in 2 of every 3 sentences of every label (no
    association); 'sovereignty' is planted in half of pro_b's sentences and nowhere else;
    'ceasefire' is in 3 pro_a sentences only (lopsided but rare); 'report' is in every sentence."""
    rows = []
    for lab in LABELS:
        for i in range(30):
            text = f"Report {i} of the day"
            if i % 3 != 0:
                text += " near the border"
            if lab == "pro_b" and i % 2 == 0:
                text += " defending sovereignty"
            if lab == "pro_a" and i < 3:
                text += " after the ceasefire"
            rows.append((text + ".", lab))
    return pd.DataFrame(rows, columns=["text", "label"])


def row(audit: pd.DataFrame, term: str, label: str) -> pd.Series:
    hit = audit[(audit["term"] == term) & (audit["label"] == label)]
    assert len(hit) == 1, (term, label)
    return hit.iloc[0]


def test_formula_matches_a_hand_computed_value() -> None:
    # 12 sentences: label y has 4, 3 of them with w; the other 8 have w once. p = 4/12, s = 3
    # -> a = 1, b = 2. delta = log((3+1)/(1+2)) - log((1+1)/(7+2)) = log(4/3 * 9/2) = log 6;
    # var = 1/4 + 1/3 + 1/2 + 1/9 = 43/36; z = log 6 / sqrt(43/36) = 1.63945...
    delta, z = beta_log_odds(np.array([3]), np.array([4]), np.array([1]), np.array([8]), prior_strength=3.0)
    assert delta[0] == pytest.approx(math.log(6))
    assert z[0] == pytest.approx(1.63945, abs=1e-5)


def test_scored_table_uses_the_formula_per_term_and_label() -> None:
    texts = ["w x"] * 3 + ["x"] + ["w y"] + ["y"] * 7
    labels = ["pro_a"] * 4 + ["pro_b"] * 8
    df = pd.DataFrame({"text": texts, "label": labels})
    audit = audit_terms(df, ["pro_a", "pro_b"], AuditSettings(ngram_range=(1, 1), min_count=1, prior_strength=3))
    w_a = row(audit, "w", "pro_a")
    assert (w_a["n_pro_a"], w_a["n_pro_b"], w_a["n"]) == (3, 1, 4)
    assert w_a["delta"] == pytest.approx(math.log(6)) and w_a["z"] == pytest.approx(1.63945, abs=1e-5)
    # the other label's row is the same 2x2 table seen from the other side
    assert row(audit, "w", "pro_b")["z"] == pytest.approx(-1.63945, abs=1e-5)


def test_an_evenly_spread_term_is_not_flagged_and_a_planted_one_is() -> None:
    audit = audit_terms(corpus(), LABELS, UNIGRAMS)
    for lab in LABELS:  # same rate (2/3) in every label: the prior has that rate too -> delta = 0
        border = row(audit, "border", lab)
        assert border["n"] == 60 and border[f"n_{lab}"] == 20
        assert border["delta"] == pytest.approx(0, abs=1e-12) and not border["flagged"]
    sov = row(audit, "sovereignty", "pro_b")
    assert (sov["n_pro_b"], sov["n_pro_a"], sov["n_neutral"]) == (15, 0, 0)
    assert sov["flagged"] and sov["z"] > 3
    assert not row(audit, "sovereignty", "pro_a")["flagged"] and row(audit, "sovereignty", "pro_a")["z"] < 0
    flagged = audit[audit["flagged"]]
    # 'defending' is planted with 'sovereignty' (same sentences): those two, nothing else
    assert set(zip(flagged["term"], flagged["label"])) == {("sovereignty", "pro_b"), ("defending", "pro_b")}
    assert audit.iloc[0]["label"] == "pro_b" and audit.iloc[0]["term"] in {"sovereignty", "defending"}
    assert sov["examples"] == ["Report 0 of the day defending sovereignty.",
                               "Report 2 of the day near the border defending sovereignty."]


def test_the_score_needs_more_evidence_from_a_rare_term() -> None:
    audit = audit_terms(corpus(), LABELS, UNIGRAMS)
    cease, sov = row(audit, "ceasefire", "pro_a"), row(audit, "sovereignty", "pro_b")
    assert cease["share"] == sov["share"] == 1.0  # both used by one label only
    assert not cease["flagged"] and 0 < cease["z"] < sov["z"] / 2


def test_a_term_in_every_sentence_scores_zero() -> None:
    audit = audit_terms(corpus(), LABELS, UNIGRAMS)
    for lab in LABELS:
        r = row(audit, "report", lab)
        assert r["n"] == 90 and r["z"] == 0.0 and r["delta"] == 0.0


def test_prior_strength_shrinks_delta() -> None:
    weak = row(audit_terms(corpus(), LABELS, AuditSettings((1, 1), 3, prior_strength=1)), "sovereignty", "pro_b")
    strong = row(audit_terms(corpus(), LABELS, AuditSettings((1, 1), 3, prior_strength=100)), "sovereignty", "pro_b")
    assert strong["delta"] < weak["delta"]


def test_min_count_ngrams_and_stop_words() -> None:
    terms = set(audit_terms(corpus(), LABELS, AuditSettings(ngram_range=(1, 2), min_count=5))["term"])
    assert "ceasefire" not in terms  # 3 sentences < min_count
    assert "the" not in terms and "of the" not in terms  # stop words only
    assert {"the border", "defending sovereignty", "border"} <= terms


def test_requested_terms_ignore_min_count_and_normalise() -> None:
    tc = count_terms(corpus(), LABELS, AuditSettings(min_count=50), terms=["Ceasefire", "the  Border", "absent"])
    assert list(tc.counts.index) == ["ceasefire", "the border", "absent"]
    assert tc.counts.loc["ceasefire"].tolist() == [3, 0, 0]
    assert tc.counts.loc["the border"].tolist() == [20, 20, 20]
    assert tc.counts.loc["absent"].tolist() == [0, 0, 0]
    assert normalise_term("Pakistan’s  Foreign-Office!") == "pakistan's foreign-office"
    curly = pd.DataFrame({"text": ["Pakistan’s army", "Pakistan's army", "Kabul"], "label": ["pro_a"] * 3})
    assert count_terms(curly, LABELS, terms=["pakistan's"]).counts.loc["pakistan's", "pro_a"] == 2


def test_labels_follow_the_scheme_order_and_empty_labels_are_skipped() -> None:
    df = corpus()
    df = df[df["label"] != "neutral"]
    tc = count_terms(df, ["pro_b", "neutral", "pro_a"], UNIGRAMS)
    assert list(tc.counts.columns) == ["pro_b", "neutral", "pro_a"]
    assert tc.n_sentences.to_dict() == {"pro_b": 30, "neutral": 0, "pro_a": 30}
    assert set(score_terms(tc)["label"]) == {"pro_a", "pro_b"}


def test_pole_asymmetry_lists_vocabulary_one_pole_owns() -> None:
    rows = [(f"Statement {i} on the border", lab) for lab in LABELS for i in range(20)]
    rows += [("Officials accused the militants", "pro_a")] * 20 + [("Officials accused the militants", "pro_b")]
    rows += [("Spokesmen accused the regime", "pro_a")] * 20 + [("Spokesmen accused the regime", "pro_b")] * 5
    rows += [("Defending sovereignty", "pro_b")] * 6 + [("Rare clash", "pro_b")] * 4 + [("Rare clash", "neutral")] * 9
    df = pd.DataFrame(rows, columns=["text", "label"])
    tc = count_terms(df, LABELS, AuditSettings(ngram_range=(1, 1), min_count=3, pole_min_count=5))
    asym = pole_asymmetry(tc, ["pro_a", "pro_b"]).set_index("term")
    # 20 vs 1 sentences (pole sizes 60 and 36): rate ratio (1/36)/(20/60) = 1/12 <= 0.1
    assert asym.loc["militants", "owner"] == "pro_a" and asym.loc["militants", "rate_ratio"] == pytest.approx(1 / 12)
    assert (asym.loc["sovereignty", "owner"], asym.loc["sovereignty", "n_other"]) == ("pro_b", 0)
    assert "regime" not in asym.index  # 20 vs 5: the other pole uses it too (ratio 5/12)
    assert "border" not in asym.index and "statement" not in asym.index  # both poles alike
    assert "clash" not in asym.index  # only 4 pro_b sentences < pole_min_count
    assert asym["n_owner"].is_monotonic_decreasing
    assert asym.loc["sovereignty", "examples"] == ["Defending sovereignty", "Defending sovereignty"]


def test_pole_asymmetry_needs_two_poles_of_the_labels() -> None:
    tc = count_terms(corpus(), LABELS, UNIGRAMS)
    with pytest.raises(InputError, match="two poles"):
        pole_asymmetry(tc, ["pro_a"])
    with pytest.raises(InputError, match="not among the labels"):
        pole_asymmetry(tc, ["pro_a", "pro_x"])


def test_bad_input_and_settings() -> None:
    with pytest.raises(InputError, match="not in the scheme"):
        count_terms(pd.DataFrame({"text": ["a b c"], "label": ["other"]}), LABELS)
    with pytest.raises(InputError, match="nothing to audit"):
        audit_terms(pd.DataFrame({"text": ["one two"], "label": ["pro_a"]}), LABELS, AuditSettings(min_count=5))
    with pytest.raises(InputError, match="no labelled sentences"):
        audit_terms(pd.DataFrame({"text": ["x"], "label": [None]}), LABELS)
    with pytest.raises(InputError, match="no 'text' column"):
        audit_terms(pd.DataFrame({"sentence": ["x"], "label": ["pro_a"]}), LABELS)
    with pytest.raises(ConfigError, match="prior_strength"):
        AuditSettings(prior_strength=0)
    with pytest.raises(ConfigError, match="ngram_range"):
        AuditSettings(ngram_range=(2, 1))


def test_a_term_no_other_label_uses_is_flagged_thanks_to_the_cell_floor() -> None:
    # 600 sentences, 200 per label; 'airspace' is in 20 pro_b sentences and in no other
    # (y_i = 20, n_i = 200, y_r = 0, n_r = 400), like 'airspace' in the sample (0 / 21 / 0);
    # 'overflight' is in one pro_b sentence and in no other (0 / 1 / 0).
    rows = [(f"Report {i} of the day" + (" airspace" if lab == "pro_b" and i < 20 else "")
             + (" overflight" if lab == "pro_b" and i == 20 else "") + ".", lab)
            for lab in LABELS for i in range(200)]
    settings = AuditSettings(ngram_range=(1, 1), min_count=1)
    audit = audit_terms(pd.DataFrame(rows, columns=["text", "label"]), LABELS, settings)
    air = row(audit, "airspace", "pro_b")
    assert (air["n_pro_a"], air["n_pro_b"], air["n_neutral"], air["share"]) == (0, 20, 0, 1.0)
    assert air["flagged"] and air["z"] >= 3
    # by hand, s = 10: p = 20/600, a = s*p = 1/3, b = s*(1-p) = 29/3; the empty cell
    # y_r + a = 1/3 is floored at half a sentence, in delta and in the variance alike
    y_i, n_i, y_r, n_r, s = 20, 200, 0, 400, 10.0
    p = (y_i + y_r) / (n_i + n_r)
    a, b = s * p, s * (1 - p)
    cells = (y_i + a, n_i - y_i + b, y_r + a, n_r - y_r + b)
    assert cells[2] == pytest.approx(1 / 3) and min(cells[:2] + cells[3:]) > CELL_FLOOR == 0.5
    floored = [max(c, 0.5) for c in cells]  # only y_r + a changes: 1/3 -> 1/2
    delta = math.log(floored[0] / floored[1]) - math.log(floored[2] / floored[3])
    z = delta / math.sqrt(sum(1 / c for c in floored))
    assert air["delta"] == pytest.approx(delta) and air["z"] == pytest.approx(z)
    assert delta == pytest.approx(4.48, abs=0.01) and z == pytest.approx(3.12, abs=0.01)
    # without any floor the empty cell alone adds 3 to the variance: z = 2.79 < 3, so the term
    # only one label uses would not be flagged (the reason for the floor)
    delta0 = math.log(cells[0] / cells[1]) - math.log(cells[2] / cells[3])
    unfloored = delta0 / math.sqrt(sum(1 / c for c in cells))
    assert unfloored == pytest.approx(2.79, abs=0.01) and unfloored < 3 <= z
    # a term in a single sentence of one label and none of the others is not flagged: its
    # floored delta is small too (by hand: a = 1/60, cell y_r + a -> 1/2; z = 0.80)
    once = row(audit, "overflight", "pro_b")
    assert (once["n_pro_a"], once["n_pro_b"], once["n_neutral"], once["share"]) == (0, 1, 0, 1.0)
    assert not once["flagged"] and once["z"] == pytest.approx(0.80, abs=0.01)


def test_a_single_sentence_term_is_not_flagged_where_a_variance_only_floor_would_flag_it() -> None:
    # the sample's train split before round 3: 'afghan people' in 1 of 455 pro_kabul sentences
    # and in none of the 1,457 others. Floored in every cell: delta 1.85, z 1.07, not flagged.
    y_i, n_i, y_r, n_r, s = 1, 455, 0, 1457, 10.0
    delta, z = beta_log_odds(np.array([y_i]), np.array([n_i]), np.array([y_r]), np.array([n_r]), s)
    assert delta[0] == pytest.approx(1.85, abs=0.01) and z[0] == pytest.approx(1.07, abs=0.01) and z[0] < 3
    # flooring only the variance keeps the unfloored delta of 6.41 (the empty cell a = s*p = 0.005
    # in a ratio) over a floored standard error: z = 3.70, flagged on one sentence
    p = (y_i + y_r) / (n_i + n_r)
    a, b = s * p, s * (1 - p)
    cells = (y_i + a, n_i - y_i + b, y_r + a, n_r - y_r + b)
    delta0 = math.log(cells[0] / cells[1]) - math.log(cells[2] / cells[3])
    var_only = delta0 / math.sqrt(sum(1 / max(c, 0.5) for c in cells))
    assert delta0 == pytest.approx(6.41, abs=0.01) and var_only == pytest.approx(3.70, abs=0.01) and var_only >= 3
