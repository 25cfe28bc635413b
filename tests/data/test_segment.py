"""Sentence segmentation and stable sentence ids (stance.data.segment)."""

from __future__ import annotations

import json
import re

import pytest

from stance.data.segment import Segmenter, assign_ids, chunk_line, normalise, sentence_id
from stance.errors import ConfigError
from stance.resources import sample_dir


@pytest.fixture(scope="module")
def seg() -> Segmenter:
    return Segmenter()


def test_pysbd_keeps_abbreviations_inside_sentences(seg):
    text = "Dr. Smith met U.S. officials in Kabul. He left at 5 p.m. on Monday."
    assert seg.split_line(text) == ["Dr. Smith met U.S. officials in Kabul.", "He left at 5 p.m. on Monday."]


def test_sentences_are_stripped(seg):
    assert seg.split_line("  The talks failed.   Then the delegation left.  ") == [
        "The talks failed.",
        "Then the delegation left.",
    ]


def test_line_break_always_ends_a_sentence(seg):
    lines = ["A line without final punctuation", "another line that starts in lower case."]
    assert seg.split(lines) == lines
    assert seg.split(["First sentence. Second sentence.", "Third sentence."]) == [
        "First sentence.",
        "Second sentence.",
        "Third sentence.",
    ]
    assert seg.split([]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "He called it “a violation of our jurisdiction.” “We have no choice,” he added.",
            ["He called it “a violation of our jurisdiction.”", "“We have no choice,” he added."],
        ),
        (
            'He called it "a violation of our jurisdiction." "We have no choice," he added.',
            ['He called it "a violation of our jurisdiction."', '"We have no choice," he added.'],
        ),
    ],
)
def test_closed_quote_followed_by_open_quote_is_split(seg, text, expected):
    assert seg.split_line(text) == expected


def test_quote_inside_a_sentence_is_not_split(seg):
    text = "He called it “a violation” and left."
    assert seg.split_line(text) == [text]


def test_short_fragments_merge_into_previous_sentence():
    text = "It failed. No. Then they left."
    assert Segmenter(min_chars=3).split_line(text) == ["It failed.", "No.", "Then they left."]
    assert Segmenter(min_chars=4).split_line(text) == ["It failed. No.", "Then they left."]


# --------------------------------------------------------------------------- normalise / ids


def test_normalise_curly_vs_straight_quotes_case_and_whitespace():
    a = "“Pakistan’s  position” — firm\tand   final"
    b = '"PAKISTAN\'S position" - FIRM and final'
    assert normalise(a) == normalise(b) == "\"pakistan's position\" - firm and final"


def test_normalise_applies_nfkc():
    assert normalise("ﬁrst\u00a0oﬃce") == "first office"


def test_same_sentence_up_to_quotes_and_case_gets_same_id():
    a = "“Pakistan’s position is firm,” he said."
    b = '"PAKISTAN\'S position is firm," he said.'
    assert sentence_id("art-1", a) == sentence_id("art-1", b)


def test_sentence_id_is_stable_short_hex():
    sid = sentence_id("art-1", "The talks failed.")
    assert re.fullmatch(r"[0-9a-f]{16}", sid)
    assert sid == sentence_id("art-1", "The talks failed.")


def test_sentence_id_matches_versioned_gold_file():
    # ids in the committed gold file must keep resolving: pins the id recipe
    path = sample_dir() / "annotations" / "gold_seeds.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:5]]
    for rec in records:
        assert sentence_id(rec["article_id"], rec["text"]) == rec["sentence_id"]


def test_sentence_id_changes_with_text_article_and_occurrence():
    base = sentence_id("art-1", "The talks failed.")
    assert sentence_id("art-1", "The talks collapsed.") != base
    assert sentence_id("art-2", "The talks failed.") != base
    assert sentence_id("art-1", "The talks failed.", occurrence=1) != base


def test_assign_ids_counts_repeated_sentences_in_order():
    texts = ["Talks failed.", "Fighting resumed.", "TALKS FAILED.", "Talks failed."]
    pairs = assign_ids("art-1", texts)
    assert [t for _, t in pairs] == texts
    ids = [i for i, _ in pairs]
    assert len(set(ids)) == 4
    assert ids[0] == sentence_id("art-1", "Talks failed.", 0)
    assert ids[1] == sentence_id("art-1", "Fighting resumed.", 0)
    assert ids[2] == sentence_id("art-1", "Talks failed.", 1)  # same normalised text
    assert ids[3] == sentence_id("art-1", "Talks failed.", 2)


def test_assign_ids_stable_under_insertion_and_reordering():
    before = dict((t, i) for i, t in assign_ids("a", ["One.", "Two.", "Three."]))
    after = dict((t, i) for i, t in assign_ids("a", ["Three.", "New sentence.", "One.", "Two."]))
    for text in ("One.", "Two.", "Three."):
        assert before[text] == after[text]


# --------------------------------------------------------------------------- long lines


def _long_line(n_chars: int) -> str:
    sentence = "The ministry said the crossing would reopen on Monday after talks in Doha. "
    return (sentence * (n_chars // len(sentence) + 1))[:n_chars]


def test_pysbd_never_gets_a_line_longer_than_max_line_chars(monkeypatch):
    seg = Segmenter(max_line_chars=2_000)
    seen: list[int] = []
    real = seg._seg.segment
    monkeypatch.setattr(seg._seg, "segment", lambda text: seen.append(len(text)) or real(text))
    line = _long_line(200_000)
    sentences = seg.split([line])
    assert max(seen) <= 2_000
    # the cuts are at sentence ends: the same sentences as a short-line split, nothing lost
    assert set(sentences) == {"The ministry said the crossing would reopen on Monday after talks in Doha."} | {
        sentences[-1]}
    assert "".join(s.replace(" ", "") for s in sentences) == line.replace(" ", "")


def test_lines_up_to_max_line_chars_are_split_as_before():
    text = "He said “no.” “We will not,” she replied. It rained. " * 20
    assert Segmenter(max_line_chars=len(text)).split([text]) == Segmenter(max_line_chars=10_000).split([text])


def test_chunk_line_without_sentence_ends_cuts_at_whitespace_then_hard():
    words = "word " * 1000
    pieces = chunk_line(words, 300)
    assert all(len(p) <= 300 for p in pieces) and " ".join(pieces).split() == words.split()
    blob = "x" * 1000
    assert chunk_line(blob, 300) == ["x" * 300, "x" * 300, "x" * 300, "x" * 100]


def test_over_long_sentences_are_cut_and_counted():
    seg = Segmenter(max_sentence_chars=50)
    out = seg.segment(["A short one. " + "A very long sentence without an end " * 5])
    assert out.truncated == 1 and all(len(s) <= 50 for s in out.sentences)


def test_bad_limits_are_config_errors():
    with pytest.raises(ConfigError, match="max_line_chars"):
        Segmenter(max_line_chars=10)
