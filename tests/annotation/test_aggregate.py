"""Majority vote and the Dawid-Skene label model on small hand cases and a synthetic case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stance.annotation.aggregate import DawidSkene, MajorityVote, votes_matrix
from stance.errors import ConfigError
from tests.schemes import LABELS

ISL, KBL, NEU = LABELS  # pro_islamabad, pro_kabul, neutral


def test_votes_matrix() -> None:
    v = pd.DataFrame({"a": [ISL, None, NEU], "b": [float("nan"), KBL, KBL]})
    assert votes_matrix(v, LABELS).tolist() == [[0, -1], [-1, 1], [2, 1]]
    with pytest.raises(ConfigError, match="labelling function 'a' voted 'bogus'"):
        votes_matrix(pd.DataFrame({"a": ["bogus"]}), LABELS)


def test_majority_vote_hand_cases() -> None:
    v = pd.DataFrame({
        "a": [ISL, ISL, None, KBL, ISL],
        "b": [ISL, KBL, None, KBL, None],
        "c": [None, None, None, NEU, None],
    })
    assert MajorityVote(LABELS, none_label=NEU).predict(v).tolist() == [ISL, NEU, None, KBL, ISL]  # tie -> neutral
    assert MajorityVote(LABELS, tie_break="abstain").predict(v).tolist() == [ISL, None, None, KBL, ISL]
    proba = MajorityVote(LABELS, none_label=NEU).predict_proba(v)
    np.testing.assert_allclose(proba[0], [1, 0, 0])
    np.testing.assert_allclose(proba[2], [1 / 3] * 3)  # no votes: uniform
    np.testing.assert_allclose(proba[3], [0, 2 / 3, 1 / 3])
    # a weight breaks the tie
    assert MajorityVote(LABELS, none_label=NEU, weights={"a": 2.0}).predict(v).tolist()[1] == ISL
    with pytest.raises(ConfigError, match="tie_break"):
        MajorityVote(LABELS, tie_break="coin")
    with pytest.raises(ConfigError, match="none_label"):
        MajorityVote(("favor", "against"))  # a scheme without a none label must abstain on ties
    assert MajorityVote(("favor", "against"), tie_break="abstain").predict(
        pd.DataFrame({"a": ["favor"], "b": ["against"]})).tolist() == [None]


def _synthetic(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)

    def lf(acc: float, coverage: float) -> list:
        out = []
        for t in y:
            if rng.random() > coverage:
                out.append(None)
            elif rng.random() < acc:
                out.append(LABELS[t])
            else:
                out.append(LABELS[rng.choice([k for k in range(3) if k != t])])
        return out

    votes = pd.DataFrame({"good": lf(0.9, 1.0), "bad": lf(0.45, 1.0), "mid": lf(0.75, 0.5)})
    return y, votes


def test_dawid_skene_recovers_the_better_lf() -> None:
    y, votes = _synthetic()
    ds = DawidSkene(LABELS, abstain_as_vote=False).fit(votes)
    acc = ds.lf_accuracies()
    assert acc["good"] > acc["mid"] > acc["bad"]
    assert abs(acc["good"] - 0.9) < 0.1 and abs(acc["bad"] - 0.45) < 0.1
    pred = ds.predict(votes)
    truth = np.array([LABELS[t] for t in y], dtype=object)
    # where "mid" abstains and good/bad disagree, majority vote can only tie; the model follows "good"
    m = votes["mid"].isna().to_numpy() & (votes["good"] != votes["bad"]).to_numpy()
    assert m.sum() > 100
    assert (pred[m] == votes["good"].to_numpy()[m]).mean() > 0.95
    mv = MajorityVote(LABELS, none_label=NEU).predict(votes)
    assert (pred == truth).mean() > (mv == truth).mean()
    assert ds.log_likelihood_[-1] >= ds.log_likelihood_[0]


def test_dawid_skene_with_single_label_lfs_and_abstentions() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 2000)
    cols = {}
    for k, lab in enumerate(LABELS):  # one LF per label: fires on 60% of its class, 5% of others
        cols[f"lf_{lab}"] = [lab if rng.random() < (0.6 if t == k else 0.05) else None for t in y]
    votes = pd.DataFrame(cols)
    ds = DawidSkene(LABELS).fit(votes)
    proba = ds.predict_proba(votes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = ds.predict(votes)
    no_vote = votes.isna().all(axis=1).to_numpy()
    assert all(p is None for p in pred[no_vote])
    truth = np.array([LABELS[t] for t in y], dtype=object)
    assert (pred[~no_vote] == truth[~no_vote]).mean() > 0.8
    assert set(ds.describe()) == {"priors", "lf_accuracy", "iterations"}


def test_dawid_skene_requires_fit() -> None:
    with pytest.raises(RuntimeError):
        DawidSkene(LABELS).predict_proba(pd.DataFrame({"a": [ISL]}))
