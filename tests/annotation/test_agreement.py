"""Agreement on hand-computed cases; the cleanlab audit on a synthetic set with flipped labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from stance.annotation.agreement import (
    agreement_report,
    annotation_matrix,
    audit_label_issues,
    cohen_kappa,
    krippendorff_alpha,
    out_of_fold_proba,
    pairwise_kappa,
)
from stance.data.annotations import Annotation
from tests.schemes import LABELS

ISL, KBL, NEU = "pro_islamabad", "pro_kabul", "neutral"


def test_cohen_kappa_2x2_by_hand() -> None:
    # both yes 20, a yes / b no 5, a no / b yes 10, both no 15 (n = 50)
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    assert math.isclose(cohen_kappa(a, b), 0.4)
    assert math.isclose(cohen_kappa(a, b), cohen_kappa_score(a, b))
    assert math.isnan(cohen_kappa(["y", "y"], ["y", "y"]))  # chance agreement 1
    with pytest.raises(ValueError):
        cohen_kappa(["y"], ["y", "n"])


def _records(table: dict[str, list]) -> list[Annotation]:
    return [Annotation(f"s{i}", lab, annotator=ann)
            for ann, labs in table.items() for i, lab in enumerate(labs) if lab is not None]


def test_krippendorff_alpha_tiny_known_case() -> None:
    # coder 1: a a b b, coder 2: a b b b. Coincidences o_aa=2, o_ab=o_ba=1, o_bb=4; n_a=3, n_b=5,
    # n=8: alpha = 1 - (n-1)(o_ab+o_ba)/(2 n_a n_b) = 1 - 7*2/30 = 8/15
    recs = _records({"c1": [ISL, ISL, KBL, KBL], "c2": [ISL, KBL, KBL, KBL]})
    assert math.isclose(krippendorff_alpha(recs, LABELS), 8 / 15)
    assert math.isclose(krippendorff_alpha(_records({"c1": [ISL, KBL, NEU], "c2": [ISL, KBL, NEU]}), LABELS), 1.0)
    # missing values: the unpaired item does not count
    assert math.isclose(krippendorff_alpha(_records({"c1": [ISL, ISL, KBL, KBL, NEU], "c2": [ISL, KBL, KBL, KBL, None]}), LABELS), 8 / 15)


def test_pairwise_kappa_and_report() -> None:
    recs = _records({"x": [ISL, ISL, KBL, NEU, NEU, NEU], "y": [ISL, KBL, KBL, NEU, NEU, ISL], "z": [ISL, ISL, KBL, NEU, None, NEU]})
    pk = pairwise_kappa(recs, LABELS).set_index(["annotator_a", "annotator_b"])
    assert pk.loc[("x", "y"), "n_items"] == 6 and pk.loc[("x", "z"), "n_items"] == 5
    assert math.isclose(pk.loc[("x", "z"), "kappa"], 1.0)
    assert math.isclose(pk.loc[("x", "y"), "kappa"], cohen_kappa_score([ISL, ISL, KBL, NEU, NEU, NEU], [ISL, KBL, KBL, NEU, NEU, ISL]))
    rep = agreement_report(recs, LABELS).set_index("scope")
    assert list(rep.index) == ["overall", ISL, KBL, NEU]
    assert rep.loc["overall", "n_items"] == 6 and rep.loc["overall", "n_annotators"] == 3
    # per class = one-vs-rest: pro_kabul is it / is not it
    m = annotation_matrix(recs)
    expected = []
    for a, b in (("x", "y"), ("x", "z"), ("y", "z")):
        both = m[[a, b]].dropna()
        expected.append(cohen_kappa_score(both[a] == KBL, both[b] == KBL))
    assert math.isclose(rep.loc[KBL, "mean_kappa"], float(np.mean(expected)))
    assert -1 <= rep.loc[KBL, "alpha"] <= 1
    # perfect agreement -> 1 everywhere
    perfect = agreement_report(_records({"a": [ISL, KBL, NEU, NEU], "b": [ISL, KBL, NEU, NEU]}), LABELS)
    assert np.allclose(perfect[["observed_agreement", "alpha", "mean_kappa"]].to_numpy(dtype=float), 1.0)


def _synthetic_gold() -> tuple[pd.DataFrame, set[str]]:
    vocab = {ISL: "khawarij sanctuaries soil infiltration terrorists", KBL: "sovereignty civilians aggression capacity airspace",
             NEU: "talks mediators istanbul delegation crossing"}
    rng = np.random.default_rng(0)
    rows = []
    for art in range(12):
        for j, lab in enumerate((ISL, KBL, NEU) * 2):
            words = rng.permutation(vocab[lab].split()).tolist()
            rows.append({"sentence_id": f"a{art}-{j}", "article_id": f"a{art}", "source": f"src{art % 3}",
                         "text": " ".join(words[:4]) + f" report {art} {j}", "label": lab})
    df = pd.DataFrame(rows)
    flipped = {"a1-0", "a5-1", "a9-2"}
    for sid, new in zip(sorted(flipped), (KBL, NEU, ISL), strict=True):
        df.loc[df["sentence_id"] == sid, "label"] = new
    return df, flipped


def test_out_of_fold_proba_is_grouped_by_article(monkeypatch: pytest.MonkeyPatch) -> None:
    from stance.models import tfidf

    df, _ = _synthetic_gold()
    article_of = dict(zip(df["text"], df["article_id"], strict=True))
    seen: list[set[str]] = []
    fit, proba = tfidf.TfidfClassifier.fit, tfidf.TfidfClassifier.predict_proba

    def spy_fit(self, texts, labels, *a, **kw):  # noqa: ANN001, ANN202
        seen.append({article_of[t] for t in texts})
        return fit(self, texts, labels, *a, **kw)

    def spy_proba(self, texts):  # noqa: ANN001, ANN202
        assert not ({article_of[t] for t in texts} & seen[-1]), "a fold scored an article it trained on"
        return proba(self, texts)

    monkeypatch.setattr(tfidf.TfidfClassifier, "fit", spy_fit)
    monkeypatch.setattr(tfidf.TfidfClassifier, "predict_proba", spy_proba)
    p = out_of_fold_proba(df, n_splits=4, labels=LABELS)
    assert p.shape == (len(df), 3) and len(seen) == 4
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_audit_finds_flipped_labels() -> None:
    df, flipped = _synthetic_gold()
    issues = audit_label_issues(df, n_splits=4, labels=LABELS)
    assert flipped <= set(issues["sentence_id"])
    assert issues.attrs["n_checked"] == len(df)
    assert list(issues["issue_rank"]) == list(range(1, len(issues) + 1))
    assert (issues["suggested_label"] != issues["label"]).all()
