"""Selection for annotation: uncertainty, spread over sources and articles, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stance.annotation.select import select_for_annotation, uncertainty
from stance.errors import InputError


class FakeModel:
    """predict_proba from a text -> probabilities table."""

    classes_ = np.array(["pro_islamabad", "pro_kabul", "neutral"])

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.array([self.table[t] for t in texts])


def test_uncertainty_measures_by_hand() -> None:
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(uncertainty(p, "entropy"), [0, np.log(2), np.log(3), -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1))])
    np.testing.assert_allclose(uncertainty(p, "margin"), [0, 1, 1, 0.7])
    np.testing.assert_allclose(uncertainty(p, "least_confidence"), [0, 0.5, 2 / 3, 0.4])
    with pytest.raises(ValueError):
        uncertainty(p, "coin")  # type: ignore[arg-type]


def _pool() -> tuple[pd.DataFrame, FakeModel]:
    rows, table = [], {}
    rng = np.random.default_rng(0)
    for src in ("S1", "S2", "S3"):
        for art in range(3):
            for i in range(4):
                text = f"{src} article {art} sentence {i}"
                # S1 is the most uncertain source overall: without spreading it would fill the batch
                conf = rng.uniform(0.34, 0.5) if src == "S1" else rng.uniform(0.5, 0.99)
                table[text] = [conf, (1 - conf) / 2, (1 - conf) / 2]
                rows.append({"sentence_id": text.replace(" ", "_"), "article_id": f"{src}-{art}",
                             "source": src, "index": i, "text": text, "label": None})
    df = pd.DataFrame(rows)
    df.loc[0, "label"] = "neutral"  # labelled: not a candidate
    return df, FakeModel(table)


def test_select_returns_n_distinct_spread_over_sources_and_articles() -> None:
    df, model = _pool()
    out = select_for_annotation(model, df, n=6, per_article=1)
    assert len(out) == 6 and out["sentence_id"].is_unique
    assert out["source"].value_counts().to_dict() == {"S1": 2, "S2": 2, "S3": 2}
    assert out["article_id"].is_unique  # at most one per article
    assert df.loc[0, "sentence_id"] not in set(out["sentence_id"])
    assert list(out["pick"]) == [1, 2, 3, 4, 5, 6]
    # within a source, the most uncertain comes first
    s1 = out[out["source"] == "S1"]["uncertainty"].tolist()
    assert s1 == sorted(s1, reverse=True)
    assert {"pred", "proba_neutral", "uncertainty"} <= set(out.columns)


def test_select_caps_per_article_and_handles_small_pools() -> None:
    df, model = _pool()
    out = select_for_annotation(model, df, n=100, per_article=2)
    assert len(out) == 9 * 2  # 9 articles x 2
    assert out.groupby("article_id").size().max() == 2
    everything = select_for_annotation(model, df, n=100, per_article=None, include_labelled=True)
    assert len(everything) == len(df)
    with pytest.raises(InputError, match="include_labelled"):
        select_for_annotation(model, df.assign(label="neutral"), n=3)


def test_select_cli_writes_each_format(tmp_path: Path) -> None:
    from stance.cli.select import main
    from stance.models.tfidf import TfidfClassifier

    df, _ = _pool()
    labels = ["pro_islamabad", "pro_kabul", "neutral"] * 2
    texts = ["khawarij soil", "sovereignty civilians", "talks mediators", "safe havens", "aggression", "crossing closed"]
    TfidfClassifier().fit(texts, labels).save(tmp_path / "model")
    df.to_parquet(tmp_path / "sentences.parquet", index=False)
    for fmt, name in (("labelstudio", "t.json"), ("doccano", "t.jsonl"), ("jsonl", "p.jsonl")):
        main(["--model", str(tmp_path / "model"), "--input", str(tmp_path), "--n", "5",
              "--output", str(tmp_path / name), "--format", fmt])
    tasks = json.loads((tmp_path / "t.json").read_text())
    assert len(tasks) == 5 and len({t["data"]["sentence_id"] for t in tasks}) == 5
    assert len({t["data"]["source"] for t in tasks}) == 3
    assert (tmp_path / "t.labeling_config.xml").is_file()
    doc = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(doc) == 5 and "prev" in doc[0]["meta"]
    plain = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["pick"] for r in plain] == [1, 2, 3, 4, 5] and "uncertainty" in plain[0]
