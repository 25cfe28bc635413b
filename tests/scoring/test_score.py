"""The scoring pipeline (stance.scoring.score): records, truncation, sentence mode, summaries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import stance
from stance.data.attribution import Attributor
from stance.data.build import sentences_of
from stance.data.cleaning import Cleaner
from stance.data.schema import Article
from stance.data.segment import Segmenter
from stance.errors import InputError
from stance.scoring.score import (
    ScoreStats,
    article_summary,
    confusion_of,
    model_preprocessing,
    record_columns,
    score_articles,
    score_sentences,
    source_summary,
    truncate_text,
)
from tests.schemes import PAK
from tests.scoring import NE, PI, PK, article_rows, tfidf_model_dir


@pytest.fixture(scope="session")
def model():
    return stance.load_model(tfidf_model_dir())


@pytest.fixture(scope="session")
def rows():
    return article_rows(8)


def test_records_have_the_documented_columns_and_valid_probabilities(model, rows):
    stats = ScoreStats()
    recs = list(score_articles(model, rows, stats=stats))
    labels = list(model.classes_)
    assert recs and all(list(r) == record_columns(labels) for r in recs)
    proba = np.array([[r[f"proba_{c}"] for c in labels] for r in recs])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert [r["label"] for r in recs] == [labels[i] for i in proba.argmax(axis=1)]
    assert stats.articles == len(rows) and stats.sentences == len(recs)
    assert stats.seconds > 0 and stats.sentences_per_second > 0
    # the model predicts its training templates correctly
    assert {r["label"] for r in recs} == {PI, PK, NE}


def test_sentences_and_ids_are_those_of_the_dataset_build(model, rows):
    recs = list(score_articles(model, rows))
    prep = model_preprocessing(model)  # no recorded preprocessing: the defaults
    assert set(prep.origin.values()) == {"default"}
    cleaner, segmenter, att = Cleaner(), Segmenter(), Attributor(actors=PAK.actors, sides=PAK.side_names)
    expected = []
    for r in rows:
        art = Article(id=r["id"], text=r["text"], source=r["source"], title=r["title"])
        sents = sentences_of(art, cleaner, segmenter, att).sentences
        expected += [(s.article_id, s.sentence_id, s.source, s.text, s.attributed, s.speaker_side) for s in sents]
    got = [(r["article_id"], r["sentence_id"], r["source"], r["text"], r["attributed"], r["speaker_side"])
           for r in recs]
    assert got == expected
    assert any(r["attributed"] for r in recs)  # "..., officials said." is reported speech


def test_batch_size_and_input_type_do_not_change_the_records(model, rows):
    a = list(score_articles(model, rows, batch_size=256))
    b = list(score_articles(model, [Article(id=r["id"], text=r["text"], source=r["source"],
                                            title=r["title"]) for r in rows], batch_size=1))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if not k.startswith("proba_")} == \
               {k: v for k, v in y.items() if not k.startswith("proba_")}
        for c in model.classes_:
            assert x[f"proba_{c}"] == pytest.approx(y[f"proba_{c}"], abs=1e-6)


def test_top_level_api_scores_with_the_models_scheme(model, rows):
    import stance

    recs = list(stance.score_articles(model, rows[:2]))
    assert recs and {r["label"] for r in recs} <= set(PAK.label_list)
    assert {r["speaker_side"] for r in recs} - {None} <= set(PAK.side_names)


def test_dict_without_source_gets_unknown_and_bad_items_raise(model):
    recs = list(score_articles(model, [{"id": "x", "text": "Trade between the two countries fell sharply."}]))
    assert recs[0]["source"] == "unknown"
    with pytest.raises(InputError, match="no id"):
        list(score_articles(model, [{"text": "No id here at all, sadly."}]))
    with pytest.raises(InputError, match="no text"):
        list(score_articles(model, [{"id": "y"}]))


def test_attribution_can_be_switched_off(model, rows):
    recs = list(score_articles(model, rows, attributor=False))
    assert not any(r["attributed"] for r in recs) and all(r["speaker_side"] is None for r in recs)


def test_overlong_articles_and_sentences_are_truncated_and_counted(model):
    long_sentence = " ".join(["escalation"] * 2000) + "."
    body = "Trade between the two countries fell sharply.\n\n" + long_sentence
    huge = {"id": "huge", "source": "S", "text": body + "\n\n" + "More text here. " * 2_000}
    stats = ScoreStats()
    recs = list(score_articles(model, [huge], stats=stats, cleaner=Cleaner(max_article_chars=3_000),
                               segmenter=Segmenter(max_sentence_chars=500)))
    assert stats.truncated_articles == 1
    assert stats.truncated_sentences >= 1
    assert max(len(r["text"]) for r in recs) <= 500
    assert stats.warnings["truncated_articles"] == 1


def test_truncate_text_cuts_at_a_space():
    assert truncate_text("short", 10) == ("short", False)
    text, cut = truncate_text("alpha beta gamma delta", 13)
    assert cut and text == "alpha beta"


def test_empty_article_is_counted_not_an_error(model):
    stats = ScoreStats()
    recs = list(score_articles(model, [{"id": "e", "source": "S", "text": "Share this article"}], stats=stats))
    assert recs == [] and stats.empty_articles == 1 and stats.articles == 1


def test_score_sentences_keeps_one_record_per_input(model):
    records = [
        {"id": "s1", "text": "Qatar and Turkey offered to mediate. Talks resume next week.", "source": "Wire"},
        {"id": "s2", "text": "Afghan forces bravely repelled the Pakistani incursion.", "article_id": "a9"},
    ]
    stats = ScoreStats()
    out = list(score_sentences(model, records, stats=stats))
    assert [r["sentence_id"] for r in out] == ["s1", "s2"]
    assert out[0]["text"] == records[0]["text"]  # not split
    assert out[1]["source"] == "unknown" and out[1]["article_id"] == "a9"
    assert out[0]["article_id"] is None
    assert out[1]["label"] == PK
    assert stats.sentences == 2
    with pytest.raises(InputError):
        list(score_sentences(model, [{"text": "no id"}]))


def test_article_summary_counts_and_slant():
    recs = [
        {"article_id": "a", "sentence_id": "1", "source": "S", "label": PI, "attributed": True},
        {"article_id": "a", "sentence_id": "2", "source": "S", "label": PI, "attributed": False},
        {"article_id": "a", "sentence_id": "3", "source": "S", "label": PK, "attributed": False},
        {"article_id": "b", "sentence_id": "4", "source": "T", "label": NE, "attributed": False},
    ]
    df = article_summary(recs, PAK)
    assert df["article_id"].tolist() == ["a", "b"]
    a = df.iloc[0]
    assert (a["n_sentences"], a[f"n_{PI}"], a[f"n_{PK}"], a[f"n_{NE}"], a["n_attributed"]) == (3, 2, 1, 0, 1)
    assert a["slant"] == pytest.approx(1 / 3)
    assert a["dominant"] == PI
    assert df.iloc[1]["slant"] == 0 and df.iloc[1]["dominant"] == NE


def test_source_summary_with_and_without_prevalence_correction(model, rows):
    recs = list(score_articles(model, rows))
    plain = source_summary(recs, PAK, n_boot=50)
    assert sorted(plain["source"]) == sorted({r["source"] for r in rows})
    assert "slant" in plain and "voice_kabul" in plain
    assert not any(c.startswith("adj_") for c in plain.columns)
    cm = confusion_of(model)
    assert cm is not None
    corrected = source_summary(recs, PAK, confusion=cm, n_boot=50)
    assert {"adj_slant", f"adj_share_{PI}"} <= set(corrected.columns)
    shares = corrected[[f"adj_share_{c}" for c in model.classes_]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-9)
    # sentences without article ids count as their own clusters
    sent = list(score_sentences(model, [{"id": f"s{i}", "text": r["text"][:200]} for i, r in enumerate(rows)]))
    table = source_summary(pd.DataFrame(sent), PAK, n_boot=20)
    assert table["n_articles"].iloc[0] == len(rows)
    assert not math.isnan(table["slant"].iloc[0])
