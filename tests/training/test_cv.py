"""Grouped cross-validation (``stance-train cv=...``) on the mini corpus with TF-IDF.

The leak checks look at what each fold's model was actually fitted on (every TF-IDF fit is
recorded) and at the articles and sources of those sentences in the built dataset, not at the
fold map the code wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from stance.data.folds import inner_split, make_folds, source_to_group
from stance.errors import ConfigError
from stance.metrics import macro_f1
from stance.models.tfidf import TfidfClassifier
from stance.training import train
from stance.training.cv import CVSettings, _fold_model
from tests.schemes import LABELS
from tests.training.conftest import compose_train

# the mini corpus's outlets by the design slant of data/sample/synthetic/outlets.json
OUTLET_GROUPS = {
    "pro_islamabad": ["The Frontier Sentinel", "Margalla Herald", "Indus Chronicle", "Capital Ledger Online"],
    "balanced": ["Global Wire Service", "Continental Press Agency"],
    "pro_kabul": ["Hindu Kush Observer", "Kabul Morning Review", "Emirate Voice", "Spin Ghar Dispatch"],
}
GROUPS_OVERRIDE = "cv.groups={" + ", ".join(
    f"{g}: [{', '.join(json.dumps(s) for s in members)}]" for g, members in OUTLET_GROUPS.items()) + "}"
CV_ONLY = ("cv.only=true", "optimized_metric=cv.macro_f1")


class Run:
    """A finished run: its directory, every TF-IDF fit it made, and its data."""

    def __init__(self, run_dir: Path, fits: list[dict[str, list[str]]], dataset: Path) -> None:
        self.dir = run_dir
        self.fits = fits
        self.oof = pd.read_parquet(run_dir / "cv" / "oof_predictions.parquet")
        self.cv_metrics = json.loads((run_dir / "cv" / "metrics.json").read_text())
        self.folds = json.loads((run_dir / "cv" / "folds.json").read_text())
        self.metrics = json.loads((run_dir / "metrics.json").read_text())
        self.dataset = dataset
        sentences = pd.read_parquet(dataset / "sentences.parquet")
        self.sentences = sentences[sentences["duplicate_of"].isna()]
        labelled = self.sentences[self.sentences["label"].notna()]
        self.pool = labelled[labelled["split"].isin(["train", "validation"])]
        self.test = labelled[labelled["split"] == "test"]
        assert not self.pool["text"].duplicated().any()  # texts identify sentences below
        self.by_text = self.pool.set_index("text")

    def fitted_on(self, i: int) -> pd.DataFrame:
        """The pool sentences fold ``i``'s model was fitted on (from the recorded texts)."""
        return self.by_text.loc[self.fits[i]["texts"]]

    def held_out(self, i: int) -> pd.DataFrame:
        return self.oof[self.oof["fold"] == i]


@pytest.fixture(scope="module")
def run_cv(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Run]:
    """Run train() once per distinct set of overrides, recording every TF-IDF fit. The first run
    builds the dataset; later ones train on it (``dataset_dir``) instead of rebuilding it."""
    cache: dict[tuple[str, ...], Run] = {}
    built: list[Path] = []
    original = TfidfClassifier._fit

    def run(*overrides: str, uses_validation: bool = False) -> Run:
        key = (*overrides, f"uses_validation={uses_validation}")
        if key not in cache:
            fits: list[dict[str, list[str]]] = []

            def recording(self: TfidfClassifier, texts: list[str], labels: list[str],
                          val_texts: list[str], val_labels: list[str]) -> None:
                fits.append({"texts": list(texts), "val_texts": list(val_texts)})
                original(self, texts, labels, val_texts, val_labels)

            run_dir = tmp_path_factory.mktemp("cv") / "run"
            reuse = [f"dataset_dir={built[0]}"] if built else []
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(TfidfClassifier, "_fit", recording)
                mp.setattr(TfidfClassifier, "uses_validation", uses_validation)
                # plain input: the recorded fit inputs are then the sentence texts themselves
                train(compose_train("model=tfidf", "data/input=plain", *overrides, *reuse, run_dir=run_dir))
            if not built:
                built.append(run_dir / "dataset")
            cache[key] = Run(run_dir, fits, built[0])
        return cache[key]

    return run


ARTICLE = ("cv=article", "cv.k=3")
SOURCE = ("cv=source", "cv.k=3", *CV_ONLY)


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_every_pool_sentence_gets_one_oof_prediction_and_test_stays_out(run_cv) -> None:
    run = run_cv(*ARTICLE)
    assert not run.oof["sentence_id"].duplicated().any()
    assert set(run.oof["sentence_id"]) == set(run.pool["sentence_id"])
    assert len(run.oof) == len(run.pool) > 0
    assert not set(run.oof["sentence_id"]) & set(run.test["sentence_id"])
    assert not run.oof["article_id"].str.startswith("seed-").any()
    assert not set(run.oof["article_id"]) & set(run.test["article_id"])
    # no fold's model was fitted on a test sentence either
    test_texts = set(run.test["text"])
    assert all(not set(f["texts"]) & test_texts for f in run.fits[:3])
    # gold in the OOF file is the dataset's label
    gold = run.pool.set_index("sentence_id")["label"]
    assert (run.oof.set_index("sentence_id")["label"] == gold.loc[run.oof["sentence_id"]]).all()
    # probability columns in classes_ order, and pred is their argmax
    proba_cols = [c for c in run.oof.columns if c.startswith("proba_")]
    assert proba_cols == [f"proba_{c}" for c in LABELS]
    assert (np.array(LABELS)[run.oof[proba_cols].to_numpy().argmax(axis=1)] == run.oof["pred"]).all()
    np.testing.assert_allclose(run.oof[proba_cols].sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_the_normal_run_still_happens_after_cv(run_cv) -> None:
    run = run_cv(*ARTICLE)
    assert len(run.fits) == 3 + 1  # three folds, then the final fit on the train split
    train_texts = set(run.sentences.loc[(run.sentences["split"] == "train") & run.sentences["label"].notna(), "text"])
    assert set(run.fits[-1]["texts"]) == train_texts
    for name in ("model/manifest.json", "predictions_test.parquet", "run_info.json"):
        assert (run.dir / name).exists(), name
    assert {"validation", "test", "cv"} <= set(run.metrics)
    info = json.loads((run.dir / "run_info.json").read_text())
    assert info["cv"]["by"] == "article" and info["cv"]["n_folds"] == 3 and info["model_dir"]
    assert "cv=article out-of-fold" in (run.dir / "model" / "README.md").read_text()


@pytest.mark.parametrize(("overrides", "column"), [(ARTICLE, "article_id"), (SOURCE, "source")])
@pytest.mark.slow
def test_no_fold_trains_on_what_it_holds_out(run_cv, overrides: tuple[str, ...], column: str) -> None:
    run = run_cv(*overrides)
    n_folds = run.oof["fold"].nunique()
    assert n_folds == 3
    pool_texts = set(run.pool["text"])
    for i in range(n_folds):
        held, fitted = run.held_out(i), run.fitted_on(i)
        assert len(held) and len(fitted)
        # the fold's model saw every other pool sentence and none of the held-out ones
        assert set(run.fits[i]["texts"]) | set(held["text"]) == pool_texts
        assert not set(run.fits[i]["texts"]) & set(held["text"])
        # ... and no article (or source) of the held-out sentences, looked up in the dataset
        held_groups = set(run.pool.set_index("sentence_id").loc[held["sentence_id"], column])
        assert not held_groups & set(fitted[column]), f"fold {i} shares a {column}"


def test_pooled_and_per_fold_metrics_equal_the_oof_file(run_cv) -> None:
    run = run_cv(*ARTICLE)
    oof, m = run.oof, run.cv_metrics
    pooled = macro_f1(oof["label"], oof["pred"], LABELS)
    assert m["pooled"]["macro_f1"] == pytest.approx(pooled)
    assert run.metrics["cv"]["macro_f1"] == pytest.approx(pooled)
    assert m["pooled"]["n"] == len(oof)
    ci = m["pooled"]["macro_f1_ci"]
    assert ci["low"] <= pooled <= ci["high"] and ci["low"] < ci["high"]
    for row in m["folds"]:
        part = oof[oof["fold"] == row["fold"]]
        assert row["n"] == len(part)
        assert row["macro_f1"] == pytest.approx(macro_f1(part["label"], part["pred"], LABELS))
        assert row["held_out"] == sorted(part["article_id"].unique())
    f1s = [r["macro_f1"] for r in m["folds"]]
    assert m["fold_macro_f1"]["mean"] == pytest.approx(np.mean(f1s))

    # per-source slant (share pro_islamabad - share pro_kabul), recomputed by hand
    def slant(labels: pd.Series) -> float:
        return float((labels == "pro_islamabad").mean() - (labels == "pro_kabul").mean())

    by_source = oof.groupby("source").agg(gold=("label", slant), pred=("pred", slant))
    rows = {r["source"]: r for r in m["slant"]["per_source"]}
    assert set(rows) == set(by_source.index)
    for source, r in by_source.iterrows():
        assert rows[source]["gold_slant"] == pytest.approx(r["gold"])
        assert rows[source]["pred_slant"] == pytest.approx(r["pred"])
    everything = m["slant"]["all_sources"]
    assert everything["n_sources"] == len(by_source)
    assert everything["mean_abs_slant_error"] == pytest.approx((by_source["pred"] - by_source["gold"]).abs().mean())
    assert everything["spearman"] == pytest.approx(spearmanr(by_source["gold"], by_source["pred"]).statistic)


@pytest.mark.slow
def test_leave_one_source_group_out_with_a_mapping(run_cv) -> None:
    run = run_cv("cv=source_group", GROUPS_OVERRIDE, *CV_ONLY)
    assert len(run.fits) == 3  # one fold per group, no final fit (cv.only)
    assert not (run.dir / "model").exists()
    group_of = source_to_group(OUTLET_GROUPS)
    assert run.folds["group_of_source"] == dict(sorted(group_of.items()))
    held_groups = []
    for i in range(3):
        held = run.held_out(i)
        groups = {group_of[s] for s in held["source"]}
        assert len(groups) == 1 and set(held["group"]) == groups
        (group,) = groups
        held_groups.append(group)
        # every sentence of the group's outlets is held out, and none was fitted on
        assert set(held["sentence_id"]) == set(run.pool.loc[run.pool["source"].map(group_of) == group, "sentence_id"])
        assert not {group_of[s] for s in run.fitted_on(i)["source"]} & groups
    assert sorted(held_groups) == sorted(OUTLET_GROUPS)
    assert run.metrics["cv"]["n_folds"] == 3 and "test" not in run.metrics


@pytest.mark.slow
def test_models_that_use_validation_get_grouped_inner_validation(run_cv) -> None:
    run = run_cv("cv=article", "cv.k=2", *CV_ONLY, uses_validation=True)
    for i in range(2):
        fit, val = run.fitted_on(i), run.by_text.loc[run.fits[i]["val_texts"]]
        held = run.held_out(i)
        assert len(val) > 0
        assert not set(val.index) & set(held["text"])  # never the held-out fold
        assert not set(val["article_id"]) & set(fit["article_id"])  # whole articles
        assert not set(val["article_id"]) & set(held["article_id"])
        assert set(fit.index) | set(val.index) | set(held["text"]) == set(run.pool["text"])
    assert run.folds["inner_validation"]["used"] is True


@pytest.mark.slow
def test_source_group_without_groups_is_a_config_error(run_cv, tmp_path: Path) -> None:
    built = run_cv(*ARTICLE).dataset  # reuse a built dataset: no rebuild
    cfg = compose_train("model=tfidf", "cv=source_group", f"dataset_dir={built}", run_dir=tmp_path / "r")
    with pytest.raises(ConfigError, match="cv=source_group needs outlet groups.*cv.column.*cv.groups"):
        train(cfg)
    partial = "cv.groups={pk: [\"The Frontier Sentinel\"]}"
    cfg = compose_train("model=tfidf", "cv=source_group", partial, f"dataset_dir={built}", run_dir=tmp_path / "s")
    with pytest.raises(ConfigError, match="no group for source.*'Emirate Voice'"):
        train(cfg)
    cfg = compose_train("model=tfidf", "cv=source_group", "cv.column=outlet_group", f"dataset_dir={built}",
                        run_dir=tmp_path / "t")
    with pytest.raises(ConfigError, match="cv.column='outlet_group' is not a column"):
        train(cfg)


def test_cv_only_needs_a_cv_metric(tmp_path: Path) -> None:
    cfg = compose_train("model=tfidf", "cv=article", "cv.only=true", run_dir=tmp_path / "r")
    with pytest.raises(ConfigError, match="optimized_metric=cv.macro_f1"):
        train(cfg)


def test_cv_is_off_by_default(tmp_path: Path) -> None:
    cfg = compose_train("model=tfidf", run_dir=tmp_path / "r")
    assert cfg.cv.by == "none"
    assert not CVSettings(by="none").enabled
    with pytest.raises(ConfigError, match="cv.by='folds'"):
        CVSettings(by="folds")


# ----------------------------------------------------------------------------- pure fold logic


def _frame(n_articles: int = 12, per_article: int = 4) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for a in range(n_articles):
        for j in range(per_article):
            rows.append({"article_id": f"a{a:02d}", "source": f"s{a % 4}", "label": LABELS[(a + j) % 3],
                         "text": f"sentence {a} {j}"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("by", ["article", "source"])
def test_folds_are_whole_groups_and_seeded(by: str) -> None:
    df = _frame()
    folds = make_folds(df, by, k=3, seed=1)
    col = "article_id" if by == "article" else "source"
    assert sorted(set(folds.fold)) == [0, 1, 2]
    assert (df.assign(f=folds.fold).groupby(col)["f"].nunique() == 1).all()
    assert np.array_equal(folds.fold, make_folds(df, by, k=3, seed=1).fold)
    if by == "article":  # 12 articles: another seed gives another assignment
        assert not np.array_equal(folds.fold, make_folds(df, by, k=3, seed=2).fold)
    described = folds.to_dict(df["article_id"])
    assert sum(f["n_sentences"] for f in described["folds"].values()) == len(df)


def test_fold_errors_name_the_setting() -> None:
    df = _frame()
    with pytest.raises(ConfigError, match="cv.k=5 but .* only 4 sources"):
        make_folds(df, "source", k=5)
    with pytest.raises(ConfigError, match="cv.k=1"):
        make_folds(df, "article", k=1)
    assert make_folds(df, "source", k=None).n_folds == 4  # leave one source out
    mixed = df.assign(outlet_group=["x", "y"] * (len(df) // 2))
    with pytest.raises(ConfigError, match="differs within article"):
        make_folds(mixed, "source_group", column="outlet_group")
    with pytest.raises(ConfigError, match="two groups"):
        source_to_group({"g1": ["s0", "s1"], "g2": ["s1"]})
    grouped = df.assign(outlet_group=df["source"].map({"s0": "x", "s1": "x", "s2": "y", "s3": "z"}))
    folds = make_folds(grouped, "source_group", column="outlet_group")
    assert folds.n_folds == 3 and sorted(folds.held_out(0) + folds.held_out(1) + folds.held_out(2)) == ["x", "y", "z"]


def test_inner_split_is_grouped_by_article() -> None:
    df = _frame()
    fit, val = inner_split(df, 0.25, seed=0)
    assert len(val) and not set(df.iloc[fit]["article_id"]) & set(df.iloc[val]["article_id"])
    assert sorted([*fit, *val]) == list(range(len(df)))
    assert len(inner_split(df, 0.0)[1]) == 0


def test_fold_clones_of_a_checkpointing_model_get_their_own_folder(tmp_path: Path) -> None:
    from stance.models.transformer import TransformerClassifier

    model = TransformerClassifier(checkpoint_dir=str(tmp_path / "checkpoints"), resume_from_checkpoint=True,
                                  run_name="r")
    est, ckpt = _fold_model(model, 2, tmp_path)
    assert ckpt == tmp_path / "cv" / "checkpoints" / "fold-2"
    params = est.get_params()
    assert params["checkpoint_dir"] == str(ckpt) and params["resume_from_checkpoint"] is None
    assert params["run_name"] == "r-cv2" and model.get_params()["checkpoint_dir"] == str(tmp_path / "checkpoints")
    assert TransformerClassifier.uses_validation and not TfidfClassifier.uses_validation


def test_trackers_log_the_pooled_cv_figures(run_cv) -> None:
    from stance.training.tracking import final_scalars

    run = run_cv(*ARTICLE)
    flat = final_scalars(run.metrics)
    assert flat["cv/macro_f1"] == pytest.approx(run.metrics["cv"]["macro_f1"])
    assert "test/macro_f1" in flat and "cv/slant_mae" in flat
