"""Model inputs (stance.data.model_input): composing, building, and scoring with the same input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stance.data.model_input import ModelInput, inputs_of, model_input_of, with_model_inputs
from stance.data.preprocessing import Preprocessing
from stance.errors import ConfigError
from stance.scoring.score import score_articles, score_sentences
from tests.schemes import PAK

TEXTS = ["Pakistan said the strikes hit militants.", "Kabul denied it.", "Talks resume today."]


def test_plain_input_is_the_sentence_itself():
    assert ModelInput().compose_article(TEXTS, ["islamabad", "kabul", None], "A title") == TEXTS
    assert not ModelInput().active


def test_speaker_context_and_title_are_composed_sentence_first():
    got = ModelInput(speaker=True, context=1, title=True).compose_article(
        TEXTS, ["islamabad", "kabul", None], "Border talks")
    assert got[0] == ("<speaker: islamabad> Pakistan said the strikes hit militants. | "
                      "after: Kabul denied it. | title: Border talks")
    assert got[1] == ("<speaker: kabul> Kabul denied it. | before: Pakistan said the strikes hit militants. | "
                      "after: Talks resume today. | title: Border talks")
    assert got[2].startswith("<speaker: none> Talks resume today. | before: Kabul denied it. |")
    assert "after:" not in got[2]


@pytest.mark.parametrize("bad", [{"context": -1}, {"context": 9}, {"context": True}, {"speaker": "yes"}])
def test_bad_settings_are_config_errors(bad):
    with pytest.raises(ConfigError):
        ModelInput(**bad)
    with pytest.raises(ConfigError, match="unknown"):
        ModelInput.from_dict({"window": 2})


def test_frame_uses_article_order_by_index_not_row_order():
    df = pd.DataFrame({
        "sentence_id": ["c", "a", "b", "z"], "article_id": ["A", "A", "A", None],
        "index": [2, 0, 1, 0], "text": ["third", "first", "second", "alone"],
        "speaker_side": [None, None, "kabul", "islamabad"], "title": ["T", "T", "T", None],
    })
    got = ModelInput(speaker=True, context=1).compose_frame(df)
    assert got[0] == "<speaker: none> third | before: second"          # row 0 is index 2
    assert got[2] == "<speaker: kabul> second | before: first | after: third"
    assert got[3] == "<speaker: islamabad> alone"                       # no article: no context
    assert inputs_of(df) == df["text"].tolist()                         # no input column yet
    # context comes from the whole table, not from the (split) rows being predicted
    part = with_model_inputs(df.iloc[[0]], df, ModelInput(context=1))
    assert part["input"].tolist() == ["third | before: second"]


def test_preprocessing_record_round_trips_the_input_settings():
    prep = Preprocessing.from_dict({"input": {"speaker": True, "context": 2, "title": False}}, PAK)
    assert prep.model_input == ModelInput(speaker=True, context=2)
    assert prep.to_dict()["input"] == {"speaker": True, "context": 2, "title": False}
    assert Preprocessing.from_dict({}, PAK).model_input == ModelInput()


class _Recorder:
    """A model that records what it is asked to read and trusts a recorded input format."""

    def __init__(self, model_input: ModelInput) -> None:
        self.classes_ = np.array(PAK.label_list)
        self.scheme_ = PAK
        self.manifest_ = {"preprocessing": {"input": model_input.params()}}
        self.seen: list[str] = []

    def predict_proba(self, texts):
        self.seen.extend(texts)
        return np.full((len(texts), len(self.classes_)), 1 / len(self.classes_))


def test_scoring_articles_feeds_the_model_the_input_it_was_trained_on():
    fmt = ModelInput(speaker=True, context=1, title=True)
    model = _Recorder(fmt)
    assert model_input_of(model) == fmt
    art = {"id": "a1", "source": "S", "title": "Border talks",
           "text": "Pakistan's foreign office said the strikes hit militants. Kabul denied it."}
    recs = list(score_articles(model, [art], batch_size=1))
    assert [r["text"] for r in recs] == ["Pakistan's foreign office said the strikes hit militants.",
                                         "Kabul denied it."]
    sides = [r["speaker_side"] for r in recs]
    assert model.seen == fmt.compose_article([r["text"] for r in recs], sides, "Border talks")
    assert model.seen[1].endswith("| before: Pakistan's foreign office said the strikes hit militants. "
                                  "| title: Border talks")
    assert "input" not in recs[0]  # the composed input is not written to the records


def test_scoring_sentences_groups_consecutive_records_of_one_article():
    model = _Recorder(ModelInput(context=1))
    rows = [{"id": "1", "text": "One.", "article_id": "A"}, {"id": "2", "text": "Two.", "article_id": "A"},
            {"id": "3", "text": "Other.", "article_id": "B"}, {"id": "4", "text": "Lone."}]
    out = list(score_sentences(model, rows, batch_size=2, attributor=False))
    assert [r["sentence_id"] for r in out] == ["1", "2", "3", "4"]
    assert model.seen == ["One. | after: Two.", "Two. | before: One.", "Other.", "Lone."]


def _build(tmp_path, *overrides):
    from hydra import compose, initialize_config_dir

    from stance.data.from_config import build_from_config
    from stance.resources import config_dir

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "a1", "source": "s", "title": "Talks", "text": "The foreign office said Pakistan wants peace. '
        'Kabul denied it."}\n', encoding="utf-8")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        data = compose(config_name="build", overrides=["output_dir=unused", "data=corpus",
                                                       f"data.corpora.main.path={corpus}", *overrides]).data
    return build_from_config(data, scheme=PAK)


def test_build_records_the_input_settings_and_composes_the_input_column(tmp_path):
    plain = _build(tmp_path, "data/input=plain")
    assert plain.sentences["input"].tolist() == plain.sentences["text"].tolist()
    assert plain.preprocessing["input"] == {"speaker": False, "context": 0, "title": False}
    default = _build(tmp_path)  # the default reads the speaker side
    assert default.preprocessing["input"] == {"speaker": True, "context": 0, "title": False}
    assert default.sentences["input"].iloc[0] == "<speaker: islamabad> " + default.sentences["text"].iloc[0]
    ctx = _build(tmp_path, "data/input=context")
    assert ctx.preprocessing["input"] == {"speaker": True, "context": 1, "title": True}
    first = ctx.sentences["input"].iloc[0]
    assert first.startswith("<speaker: ") and "| after: Kabul denied it. | title: Talks" in first
