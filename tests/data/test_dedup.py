"""Cross-split duplicate removal (stance.data.dedup)."""

from __future__ import annotations

import pytest

from stance.data.dedup import Deduplicator

WIRE = (
    "Pakistani security forces repulsed a major attack on border posts in Kurram district "
    "late on Saturday night, officials said."
)
WIRE_EDITED = (
    "Pakistani security forces repulsed a major attack on border posts in Kurram district "
    "late on Saturday night, officials said on Sunday."
)
OTHER = "The Afghan foreign ministry summoned the Pakistani envoy in Kabul to lodge a formal protest."
THIRD = "Turkish and Qatari mediators announced a new round of talks to be held in Istanbul next month."


def dropped(dups) -> dict[str, tuple[str, str, str]]:
    return {d.dropped: (d.kept, d.dropped_split, d.kind) for d in dups}


@pytest.mark.parametrize(
    ("splits", "loser", "winner"),
    [
        (("train", "test"), "x0", "x1"),
        (("test", "train"), "x1", "x0"),
        (("validation", "train"), "x1", "x0"),
        (("train", "validation"), "x0", "x1"),
        (("test", "validation"), "x1", "x0"),
        (("validation", "test"), "x0", "x1"),
    ],
)
def test_exact_duplicate_dropped_from_less_protected_split(splits, loser, winner):
    dups = Deduplicator().find(["x0", "x1", "o"], [WIRE, WIRE, OTHER], [*splits, "train"])
    assert len(dups) == 1
    d = dups[0]
    assert (d.dropped, d.kept, d.kind, d.similarity) == (loser, winner, "exact", 1.0)
    assert {d.dropped_split, d.kept_split} == set(splits)


def test_exact_match_ignores_case_and_quote_style():
    a = "“Pakistan’s position is firm,” the minister said."
    b = '"PAKISTAN\'S POSITION IS FIRM," the minister said.'
    dups = Deduplicator(threshold=1.0).find(["t", "tr"], [a, b], ["test", "train"])
    assert dropped(dups) == {"tr": ("t", "train", "exact")}


def test_three_copies_keep_the_test_copy():
    dups = Deduplicator().find(
        ["tr", "v", "t"], [WIRE, WIRE, WIRE], ["train", "validation", "test"]
    )
    assert dropped(dups) == {"tr": ("t", "train", "exact"), "v": ("t", "validation", "exact")}


def test_near_duplicate_dropped_from_train():
    dups = Deduplicator(threshold=0.8).find(
        ["t", "tr", "o"], [WIRE, WIRE_EDITED, OTHER], ["test", "train", "train"]
    )
    assert dropped(dups) == {"tr": ("t", "train", "near")}
    assert 0.8 <= dups[0].similarity < 1.0
    assert dups[0].kept_split == "test"


def test_near_duplicate_between_validation_and_test_drops_validation():
    dups = Deduplicator(threshold=0.8).find(["v", "t"], [WIRE_EDITED, WIRE], ["validation", "test"])
    assert dropped(dups) == {"v": ("t", "validation", "near")}


def test_same_split_duplicates_are_kept():
    dedup = Deduplicator(threshold=0.8)
    assert dedup.find(["a", "b", "c"], [WIRE, WIRE, WIRE_EDITED], ["train", "train", "train"]) == []
    assert dedup.find(["a", "b"], [WIRE, WIRE_EDITED], ["test", "test"]) == []


def test_distinct_sentences_are_not_duplicates():
    assert Deduplicator().find(["a", "b", "c"], [WIRE, OTHER, THIRD], ["test", "validation", "train"]) == []


def test_threshold_one_checks_exact_duplicates_only():
    dedup = Deduplicator(threshold=1.0)
    assert dedup.find(["t", "tr"], [WIRE, WIRE_EDITED], ["test", "train"]) == []
    assert dropped(dedup.find(["t", "tr"], [WIRE, WIRE], ["test", "train"])) == {"tr": ("t", "train", "exact")}


def test_short_sentences_are_only_checked_for_exact_copies():
    short_a, short_b = "Talks collapsed in Istanbul.", "Talks collapsed in Istanbul!!"
    dedup = Deduplicator(threshold=0.5)
    assert dedup.find(["t", "tr"], [short_a, short_b], ["test", "train"]) == []
    assert len(dedup.find(["t", "tr"], [short_a, short_a], ["test", "train"])) == 1


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5])
def test_invalid_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        Deduplicator(threshold=threshold)
