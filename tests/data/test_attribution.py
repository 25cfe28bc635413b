"""Reported speech and speaker-side resolution (stance.data.attribution)."""

from __future__ import annotations

import pytest

from stance.data.attribution import Attributor
from stance.errors import ConfigError
from tests.schemes import PAK, SIDES


@pytest.fixture(scope="module")
def att() -> Attributor:
    return Attributor(actors=PAK.actors, sides=PAK.side_names)


def test_gazetteer_sides_are_the_scheme_sides():
    assert {a["side"] for a in PAK.actors} == set(SIDES)


def test_reporting_verb_marks_attribution(att):
    r = att.attribute("The minister said the talks had failed.")
    assert r.attributed
    assert r.cues == ["said"]
    assert r.speaker is None and r.speaker_side is None  # no known actor named


def test_according_to_marks_attribution(att):
    r = att.attribute("According to local residents, the crossing was shut overnight.")
    assert r.attributed
    assert "according to" in r.cues


def test_long_quotation_alone_marks_attribution(att):
    r = att.attribute('The strikes were a "clear violation of our sovereignty and territory", a statement read.')
    assert r.attributed
    assert r.cues == ["quotation"]
    r = att.attribute("“We have no choice but to respond to these attacks,” the statement read.")
    assert r.attributed and r.cues == ["quotation"]


@pytest.mark.parametrize(
    "sentence",
    [
        'Islamabad called the strikes a "response" to terror.',
        "The so-called “peace” talks ended without a deal.",
        "Officials labelled the closure of Torkham ‘routine’ on Monday.",
    ],
)
def test_scare_quote_alone_does_not_mark_attribution(att, sentence):
    r = att.attribute(sentence)
    assert not r.attributed
    assert r.speaker is None and r.cues == []


def test_min_quote_words_sets_the_quotation_threshold():
    sentence = 'Islamabad called the strikes a "measured response" to terror.'
    assert not Attributor(min_quote_words=3).attribute(sentence).attributed
    assert Attributor(min_quote_words=2).attribute(sentence).attributed


def test_scare_quote_with_reporting_verb_is_attributed(att):
    r = att.attribute("Islamabad called the strikes a “response” to terror, the ministry said.")
    assert r.attributed
    assert r.cues == ["said"]


@pytest.mark.parametrize(
    ("sentence", "speaker", "side"),
    [
        ("Pakistan's defence minister Khawaja Asif said the talks had failed.", "Khawaja Asif", "islamabad"),
        ("Pakistan’s Defense Minister Khawaja Asif said the talks had failed.", "Khawaja Asif", "islamabad"),
        ("The army said on Sunday that Afghan forces had opened fire.", "Pakistani officials", "islamabad"),
        ("ISPR said 23 soldiers were martyred in the exchanges.", "ISPR", "islamabad"),
        ("Taliban spokesman Zabihullah Mujahid said Islamabad was to blame.", "Zabihullah Mujahid", "kabul"),
        ("According to the Taliban, Pakistan violated the ceasefire.", "Afghan officials", "kabul"),
        ("The attack was condemned, said Zabihullah Mujahid, the Taliban spokesman.", "Zabihullah Mujahid", "kabul"),
        ("“Islamabad is responsible for this escalation,” said Mujahid.", "Zabihullah Mujahid", "kabul"),
        ("According to Qatari mediators, the ceasefire is holding.", "Qatar", "third_party"),
        ("Turkish mediators said both sides had agreed to meet again.", "Turkey", "third_party"),
        ("The ceasefire was holding, UN officials said.", "United Nations", "third_party"),
        ("Analysts warned that the conflict could spread.", "Analysts", "third_party"),
        ("President Recep Tayyip Erdoğan said Ankara would keep mediating.", "Turkey", "third_party"),
    ],
)
def test_speaker_side_resolution(att, sentence, speaker, side):
    r = att.attribute(sentence)
    assert r.attributed
    assert (r.speaker, r.speaker_side) == (speaker, side)


def test_actor_named_inside_quotation_is_not_the_speaker(att):
    r = att.attribute("“Kabul must stop sheltering the militants,” the statement read.")
    assert r.attributed
    assert r.speaker is None


@pytest.mark.parametrize(
    "sentence",
    [
        "The border crossing at Torkham remained closed on Monday.",
        "Pakistan and Afghanistan share a long and porous border.",  # actors named, no cue
        "Islamabad closed the Torkham crossing on Monday.",
    ],
)
def test_unattributed_sentence_has_no_speaker(att, sentence):
    r = att.attribute(sentence)
    assert not r.attributed
    assert (r.speaker, r.speaker_side, r.cues) == (None, None, [])


def test_longest_alias_wins_and_word_boundaries(att):
    (m,) = att.mentions("Pakistani Defence Minister Khawaja Muhammad Asif")
    assert m[2].name == "Khawaja Asif"
    assert (m[0], m[1]) == (0, len("Pakistani Defence Minister Khawaja Muhammad Asif"))
    # "UN" inside "UN-backed" or "UNITED" is not a mention of the United Nations
    assert [a.name for _, _, a in att.mentions("A UN-backed plan was rejected by the UNITED front.")] == []


def test_invalid_side_is_rejected():
    with pytest.raises(ConfigError, match="side 'delhi'"):
        Attributor(actors=[{"name": "X", "side": "delhi"}], sides=SIDES)
    # without a list of sides any side is accepted (a scheme's own sides)
    assert Attributor(actors=[{"name": "X", "side": "delhi"}]).attribute("X said so.").speaker_side == "delhi"


def test_actor_without_aliases_matches_its_name():
    att = Attributor(actors=[{"name": "Tolo News", "side": "third_party"}])
    r = att.attribute("Tolo News reported that the border was closed.")
    assert (r.speaker, r.speaker_side) == ("Tolo News", "third_party")
