"""apply_label_mode: weak / gold+weak for train and validation, gold kept for test."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from stance.annotation.lfs_prototype import PrototypeLF
from stance.annotation.training_labels import apply_label_mode, labeler_from_config, labels_config
from stance.errors import ConfigError
from tests.schemes import LABELS

LFS = {
    "kabul": {"_target_": "stance.annotation.lfs_lexicon.LexiconLF", "label": "pro_kabul", "terms": ["sovereignty"]},
    "isl": {"_target_": "stance.annotation.lfs_lexicon.LexiconLF", "label": "pro_islamabad", "terms": ["khawarij"]},
    "neutral": {"_target_": "stance.annotation.lfs_lexicon.LexiconLF", "label": "neutral", "terms": ["talks"]},
}


def _cfg(tmp_path: Path | None = None, **agg: object) -> object:
    node = {"lfs": LFS, "aggregator": {"_target_": "stance.annotation.aggregate.MajorityVote", "labels": list(LABELS),
                                       "none_label": "neutral", **agg}}
    return OmegaConf.create({"annotation": node, "run_dir": str(tmp_path) if tmp_path else None})


@pytest.fixture
def df() -> pd.DataFrame:
    rows = [
        ("t1", "train", "pro_islamabad", "sovereignty was violated"),  # weak: pro_kabul (disagrees)
        ("t2", "train", "pro_islamabad", "khawarij attacked"),          # weak: pro_islamabad
        ("t3", "train", "neutral", "nothing to see"),                   # weak: abstain
        ("t4", "train", None, "the talks went on"),                     # no gold, weak: neutral
        ("v1", "validation", "neutral", "talks about sovereignty"),     # tie -> neutral
        ("v2", "validation", "pro_kabul", "a plain sentence"),          # abstain
        ("x1", "test", "pro_islamabad", "sovereignty talks"),           # test: always gold
        ("x2", "test", "neutral", "khawarij"),
    ]
    return pd.DataFrame([{"sentence_id": s, "article_id": f"a-{s}", "source": "src", "split": sp, "label": lab,
                          "text": t, "duplicate_of": None} for s, sp, lab, t in rows])


def test_weak_mode_replaces_train_validation_and_keeps_test_gold(df: pd.DataFrame, tmp_path: Path) -> None:
    out = apply_label_mode(df, "weak", _cfg(tmp_path)).set_index("sentence_id")
    assert out.loc["t1", "label"] == "pro_kabul" and out.loc["t2", "label"] == "pro_islamabad"
    assert out.loc["t4", "label"] == "neutral" and out.loc["v1", "label"] == "neutral"
    assert "t3" not in out.index and "v2" not in out.index  # aggregate abstained: dropped
    assert out.loc["x1", "label"] == "pro_islamabad" and out.loc["x2", "label"] == "neutral"
    assert out.loc["x1", "label_source"] == "gold" and out.loc["t1", "label_source"] == "weak"
    assert out.loc["t1", "gold_label"] == "pro_islamabad"
    counts = json.loads((tmp_path / "weak_label_counts.json").read_text())
    assert counts["splits"]["train"] == {"rows": 4, "weak_labels": 3, "dropped_no_label": 1}
    assert counts["splits"]["validation"] == {"rows": 2, "weak_labels": 1, "dropped_no_label": 1}
    weak = pd.read_parquet(tmp_path / "weak_labels.parquet")
    assert set(weak["sentence_id"]) == {"t1", "t2", "t3", "t4", "v1", "v2"}  # never the test split
    assert (tmp_path / "weak_label_analysis.csv").is_file()


def test_gold_plus_weak_fills_only_missing_gold(df: pd.DataFrame) -> None:
    out = apply_label_mode(df, "gold+weak", _cfg()).set_index("sentence_id")
    assert out.loc["t1", "label"] == "pro_islamabad"  # gold kept
    assert out.loc["t3", "label"] == "neutral" and out.loc["t3", "label_source"] == "gold"
    assert out.loc["t4", "label"] == "neutral" and out.loc["t4", "label_source"] == "weak"
    assert out.loc["x1", "label"] == "pro_islamabad"
    assert len(out) == len(df)


def test_tie_break_abstain_drops_ties(df: pd.DataFrame) -> None:
    out = apply_label_mode(df, "weak", _cfg(tie_break="abstain"))
    assert "v1" not in set(out["sentence_id"])


def test_gold_mode_is_identity_and_bad_mode_fails(df: pd.DataFrame) -> None:
    assert apply_label_mode(df, "gold", _cfg()) is df
    with pytest.raises(ConfigError):
        apply_label_mode(df, "silver", _cfg())


def test_test_rows_never_reach_lfs_or_prototypes(df: pd.DataFrame) -> None:
    seen: list[str] = []

    class Spy:
        name = "spy"

        def fit(self, rows: pd.DataFrame) -> None:
            seen.extend(rows["split"])

        def __call__(self, sentence: dict) -> None:
            seen.append(sentence["split"])

    labeler = labeler_from_config(_cfg().annotation)
    labeler.lfs.append(Spy())
    from stance.annotation import training_labels

    orig = training_labels.labeler_from_config
    training_labels.labeler_from_config = lambda node: labeler
    try:
        apply_label_mode(df, "weak", _cfg())
    finally:
        training_labels.labeler_from_config = orig
    assert seen and "test" not in seen
    # the prototype LF's fit takes gold from the TRAIN split only
    lf = PrototypeLF("p", labels=LABELS, gold_per_label=-1).fit(df)
    assert {p["text"] for p in lf.prototypes_} == {"sovereignty was violated", "khawarij attacked", "nothing to see"}


def test_annotation_is_required() -> None:
    with pytest.raises(ConfigError, match="annotation"):
        labels_config(OmegaConf.create({"data": {}}))


@pytest.mark.slow
def test_train_config_wires_annotation() -> None:
    from hydra import compose, initialize_config_dir

    import stance.cli._hydra  # noqa: F401
    from stance.resources import config_dir

    for name in ("train", "label"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name=name, overrides=["data.labels=weak"] if name == "train" else [])
        assert labels_config(cfg) is cfg.annotation
        # the LFs resolve speakers with the scheme's gazetteer, vote the scheme's labels
        assert cfg.annotation.lfs.retaliation.actors == cfg.scheme.actors == cfg.data.attribution.actors
        assert cfg.annotation.aggregators.majority.labels == cfg.scheme.labels
        labeler = labeler_from_config(cfg.annotation)  # builds every LF (MiniLM is loaded lazily)
        assert {"attribution_sides", "lexicon_kabul", "retaliation", "prototype"} <= set(labeler.names)
        retaliation = next(lf for lf in labeler.lfs if lf.name == "retaliation")
        assert retaliation({"text": "Afghan forces responded to the shelling."}) == "pro_kabul"


def test_aggregator_by_name() -> None:
    from stance.annotation.aggregate import DawidSkene, MajorityVote

    node = OmegaConf.create({"lfs": LFS, "aggregator": "ds", "aggregators": {
        "ds": {"_target_": "stance.annotation.aggregate.DawidSkene", "labels": list(LABELS)},
        "mv": {"_target_": "stance.annotation.aggregate.MajorityVote", "labels": list(LABELS), "none_label": "neutral"}}})
    assert isinstance(labeler_from_config(node).aggregator, DawidSkene)
    node.aggregator = "mv"
    assert isinstance(labeler_from_config(node).aggregator, MajorityVote)
    node.aggregator = "nope"
    with pytest.raises(ConfigError, match="aggregators"):
        labeler_from_config(node)
