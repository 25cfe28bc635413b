"""Whole-pipeline assembly on a small in-memory corpus (stance.data.build)."""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pandas as pd
import pytest

from stance.data.annotations import Annotation
from stance.data.attribution import Attributor
from stance.data.build import build_dataset, sentences_of, write_dataset
from stance.data.cleaning import Cleaner
from stance.data.dedup import Deduplicator
from stance.data.readers import ReadResult, Skipped
from stance.data.schema import Article
from stance.data.segment import Segmenter
from stance.data.splits import Splitter, check_no_leak
from stance.errors import InputError
from tests.schemes import LABELS, PAK

WIRE = (
    "Pakistani security forces repulsed a major attack on border posts in Kurram district "
    "late on Saturday night, officials said."
)


PLACES = ["Kurram", "Bajaur", "Chaman", "Torkham", "Angoor Adda", "Dir", "Khyber", "Mohmand", "Zhob",
          "Spin Boldak", "Paktika", "Kunar", "Nangarhar", "Khost"]
EVENTS = ["mortar shelling", "sniper fire", "a drone strike", "an ambush on a convoy", "rocket attacks",
          "heavy machine-gun fire", "an assault on a checkpoint", "artillery barrages",
          "a raid on a supply depot", "cross-border infiltration", "a suicide bombing",
          "clashes near a bazaar", "grenade attacks", "an attack on a school"]
TIMES = ["on Monday", "before dawn on Tuesday", "late on Wednesday", "early Thursday", "on Friday afternoon",
         "over the weekend", "on Saturday night", "on Sunday morning", "last week", "two days ago",
         "at midnight", "during Friday prayers", "after sunset", "at noon"]


def article_text(i: int) -> str:
    """A small article with a heading-like title line, furniture and three distinct sentences."""
    place, event, when = PLACES[i % 14], EVENTS[(i * 5) % 14], TIMES[(i * 3) % 14]
    return (
        f"Border Clashes Resume In {place}\n"
        f"Pakistan's defence minister Khawaja Asif said {event} had hit posts in {place} {when}.\n"
        "Post a Comment\n"
        f"Taliban spokesman Zabihullah Mujahid said Kabul had not started the {event} near {place}.\n"
        f"Residents of {place} described {event} {when}, local media reported."
    )


def make_corpora() -> dict[str, ReadResult]:
    main = [Article(f"syn-{i:02d}", article_text(i), f"outlet-{i % 3}", date="2025-10-12", origin=f"main:{i}")
            for i in range(12)]
    main.append(Article("syn-wire", f"{WIRE}\nA second sentence about the wire story, long enough.", "outlet-0"))
    main.append(Article("syn-empty", "Post a Comment\nShare\n12\nRelated Stories", "outlet-1", origin="main:99"))
    seeds = [Article(f"seed-{i:03d}", article_text(12 + i), f"seed-{i:03d}", title=f"Seed {i}") for i in range(2)]
    seeds.append(Article("seed-wire", WIRE, "seed-wire"))
    return {
        "main": ReadResult(main, skipped=[Skipped("main:50", "malformed record: bad")]),
        "seeds": ReadResult(seeds),
    }


@pytest.fixture(scope="module")
def steps() -> dict:
    return {
        "cleaner": Cleaner(),
        "segmenter": Segmenter(),
        "attributor": Attributor(actors=PAK.actors, sides=PAK.side_names),
        "splitter": Splitter(test_articles=["seed-*"], val_fraction=0.25, test_fraction=0.0),
        "deduplicator": Deduplicator(),
    }


def gold_for(corpora, steps) -> list[Annotation]:
    """Gold for every sentence but one (syn-00, index 2), cycling through the labels."""
    anns = []
    n = 0
    for res in corpora.values():
        for a in res.articles:
            sents = sentences_of(a, steps["cleaner"], steps["segmenter"], None).sentences
            for s in sents:
                if a.id == "syn-00" and s.index == 2:
                    continue  # one unlabelled sentence
                anns.append(Annotation(s.sentence_id, LABELS[n % 3], a.id, a.source, s.text))
                n += 1
    return anns


@pytest.fixture(scope="module")
def built(steps):
    corpora = make_corpora()
    anns = gold_for(corpora, steps)
    anns.append(Annotation("0123456789abcdef", "neutral", "syn-00", "outlet-0", "A sentence later edited away."))
    return build_dataset(corpora, anns, **steps, scheme=PAK), anns


def test_sentences_carry_provenance_and_attribution(built):
    result, _ = built
    df = result.sentences
    assert result.n_articles == 17
    assert set(df["article_id"]) == {a for a in result.corpus_of_article if a != "syn-empty"}
    s00 = df[df["article_id"] == "syn-00"].sort_values("index")
    assert list(s00["index"]) == [0, 1, 2]
    assert set(s00["source"]) == {"outlet-0"}
    assert set(s00["title"]) == {"Border Clashes Resume In Kurram"}  # taken from the first line
    assert list(s00["speaker_side"])[:2] == ["islamabad", "kabul"]
    assert list(s00["attributed"]) == [True, True, True]  # "reported" is a reporting verb
    seed0 = df[df["article_id"] == "seed-000"]
    assert set(seed0["title"]) == {"Seed 0"}  # a given title wins
    assert set(df[df["article_id"] == "seed-000"]["corpus"]) == {"seeds"}
    assert result.corpus_of_article["syn-03"] == "main"


def test_removed_lines_and_skips_are_reported(built):
    result, _ = built
    # one "Post a Comment" per normal article (14) and in the empty one, plus its share/counter
    assert result.removed_lines["comments"] == 15
    assert result.removed_lines["share"] == 1 and result.removed_lines["counter"] == 1
    assert [s.where for s in result.skipped] == ["main:50"]
    assert result.summary()["skipped_records"] == 1


def test_article_without_sentences_is_reported_not_dropped(built):
    result, _ = built
    assert result.empty_articles == ["syn-empty"]
    assert result.summary()["articles_without_sentences"] == ["syn-empty"]
    assert "syn-empty" in result.corpus_of_article


def test_orphan_gold_and_unlabelled_are_reported(built):
    result, _ = built
    assert [o.sentence_id for o in result.join.orphans] == ["0123456789abcdef"]
    assert len(result.join.unlabelled) == 1
    summary = result.summary()
    assert summary["gold_without_sentence"] == 1
    assert summary["unlabelled_sentences"] == 1


def test_splits_are_leak_free_and_seeds_are_test(built):
    result, _ = built
    df = result.sentences
    article_of = dict(zip(df["sentence_id"], df["article_id"]))
    assert check_no_leak(article_of, dict(zip(df["sentence_id"], df["split"]))) == []
    test_articles = set(df[df["split"] == "test"]["article_id"])
    assert test_articles == {"seed-000", "seed-001", "seed-wire"}
    assert set(df["split"]) == {"train", "validation", "test"}


def test_cross_split_duplicate_dropped_from_the_less_protected_split(built):
    result, _ = built
    df = result.sentences.set_index("sentence_id")
    assert len(result.duplicates) == 1
    d = result.duplicates[0]
    assert df.loc[d.dropped, "article_id"] == "syn-wire"
    assert df.loc[d.kept, "article_id"] == "seed-wire"
    assert (d.kind, d.kept_split) == ("exact", "test")
    assert d.dropped_split == df.loc[d.dropped, "split"] != "test"
    assert df.loc[d.dropped, "duplicate_of"] == d.kept
    assert d.dropped not in set(result.labelled["sentence_id"])
    assert d.kept in set(result.labelled["sentence_id"])
    assert result.summary()["cross_split_duplicates_dropped"] == 1


def test_dataset_dict_features_and_records(built):
    result, anns = built
    dd = result.dataset_dict()
    assert set(dd) == {"train", "validation", "test", "unlabelled"}
    label = dd["train"].features["label"]
    assert isinstance(label, datasets.ClassLabel)
    assert label.names == list(LABELS)
    gold = {a.sentence_id: a.label for a in anns}
    n = 0
    for split in ("train", "validation", "test"):
        for rec in dd[split]:
            assert rec["article_id"] and rec["source"]
            assert LABELS[rec["label"]] == gold[rec["sentence_id"]]
            n += 1
    assert n == len(result.labelled)
    assert set(dd["test"]["article_id"]) == {"seed-000", "seed-001", "seed-wire"}
    assert dd["unlabelled"]["label"] == [-1]


def test_fingerprint_is_deterministic_and_tracks_labels(steps, built):
    result, anns = built
    again = build_dataset(make_corpora(), anns, **steps)
    assert again.fingerprint() == result.fingerprint()
    kept = set(result.labelled["sentence_id"])
    changed = list(anns)
    k = next(k for k, a in enumerate(changed) if a.sentence_id in kept)
    first = changed[k]
    new_label = next(lab for lab in LABELS if lab != first.label)
    changed[k] = Annotation(first.sentence_id, new_label, first.article_id)
    assert build_dataset(make_corpora(), changed, **steps).fingerprint() != result.fingerprint()


def test_empty_corpus_error(steps):
    with pytest.raises(InputError, match="the corpus is empty"):
        build_dataset({"main": ReadResult()}, [], **steps)
    skipped = ReadResult(skipped=[Skipped("x.jsonl:1", "malformed record: bad")])
    with pytest.raises(InputError, match=r"no article was read \(1 record\(s\) skipped\)"):
        build_dataset({"main": skipped}, [], **steps)


def test_duplicate_article_id_across_corpora(steps):
    a = ReadResult([Article("shared-1", "The talks failed.", "A", origin="a.jsonl:3")])
    b = ReadResult([Article("shared-1", "The talks resumed.", "B", origin="b.jsonl:7")])
    with pytest.raises(InputError, match=r"b\.jsonl:7, field 'id': duplicate article id 'shared-1' \(first seen at a\.jsonl:3\)"):
        build_dataset({"a": a, "b": b}, [], **steps)


def test_build_without_attributor_or_deduplicator(steps):
    corpora = make_corpora()
    result = build_dataset(corpora, gold_for(corpora, steps), steps["cleaner"], steps["segmenter"], None, steps["splitter"])
    assert not result.sentences["attributed"].any()
    assert result.sentences["speaker"].isna().all()
    assert result.duplicates == [] and result.sentences["duplicate_of"].isna().all()


def test_write_dataset(tmp_path, built):
    result, _ = built
    out = write_dataset(result, tmp_path / "ds", extra={"config": {"name": "unit"}})
    assert out == tmp_path / "ds"
    dd = datasets.load_from_disk(str(out / "hf"))
    assert {k: len(v) for k, v in dd.items()} == {k: len(v) for k, v in result.dataset_dict().items()}
    assert dd["test"].features["label"].names == list(LABELS)
    parquet = pd.read_parquet(out / "sentences.parquet")
    assert len(parquet) == len(result.sentences)
    assert {"sentence_id", "article_id", "source", "split", "label", "duplicate_of"} <= set(parquet.columns)
    assert (out / "sentences.jsonl").is_file()
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert report["fingerprint"] == result.fingerprint()
    assert report["articles"] == 17
    assert report["articles_without_sentences"] == ["syn-empty"]
    assert report["gold_without_sentence_ids"][0]["sentence_id"] == "0123456789abcdef"
    assert report["config"] == {"name": "unit"}
    assert report["labels"] == list(LABELS)
    # writing again replaces the dataset and leaves no temporary folder behind
    write_dataset(result, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert "config" not in json.loads((out / "build_report.json").read_text(encoding="utf-8"))


def test_labels_per_split_counts_match_dataset(built):
    result, _ = built
    per_split = result.summary()["labels_per_split"]
    lab = result.labelled
    for split, counts in per_split.items():
        assert counts == dict(Counter(lab[lab["split"] == split]["label"]))


@pytest.mark.slow
def test_a_five_megabyte_one_line_article_is_truncated_and_counted(steps):
    line = "Officials in Chaman said the crossing stayed shut for a third day. " * 75_000  # ~5 MB, one line
    big = Article("syn-big", line, "outlet-0")
    corpora = make_corpora()
    corpora["main"].articles.append(big)
    res = build_dataset(corpora, [], **{**steps, "deduplicator": None}, scheme=PAK)
    assert res.removed_lines["truncated_article"] == 1
    big_rows = res.sentences[res.sentences["article_id"] == "syn-big"]
    assert 0 < big_rows["text"].str.len().sum() <= Cleaner().max_article_chars
    assert (big_rows["text"] == "Officials in Chaman said the crossing stayed shut for a third day.").mean() > 0.99
