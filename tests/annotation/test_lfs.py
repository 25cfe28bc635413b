"""Each labelling function on hand-written sentences: fires or abstains as expected."""

from __future__ import annotations

import pandas as pd
import pytest

from stance.annotation.lfs import apply_lfs
from stance.annotation.lfs_attribution import AttributionLF, RetaliationLF
from stance.annotation.lfs_lexicon import ClaimRebuttalLF, LexiconLF, PatternLF
from stance.annotation.lfs_prototype import PrototypeLF
from stance.annotation.training_labels import labeler_from_config
from stance.errors import ConfigError
from tests.schemes import LABELS

SIDE_LABELS = {"islamabad": "pro_islamabad", "kabul": "pro_kabul"}

GAZ = [
    {"name": "Pakistani officials", "side": "islamabad", "aliases": ["Pakistani officials", "Islamabad", "Pakistan"]},
    {"name": "Mujahid", "side": "kabul", "aliases": ["Zabihullah Mujahid", "Mujahid", "Taliban", "Kabul", "Afghan officials"]},
    {"name": "Turkey", "side": "third_party", "aliases": ["Turkish mediators", "Turkey"]},
]
ADJ = [
    {"name": "Pakistani", "side": "islamabad", "aliases": ["Pakistani"]},
    {"name": "Afghan", "side": "kabul", "aliases": ["Afghan", "Afghan forces"]},
]


def s(text: str, **kw: object) -> dict:
    return {"text": text, "attributed": kw.pop("attributed", False), "speaker_side": kw.pop("side", None), **kw}


# --------------------------------------------------------------------------- attribution


def test_attribution_uses_speaker_side_of_attributed_sentences() -> None:
    lf = AttributionLF("att", SIDE_LABELS)
    text = "Mujahid said Islamabad's demand was beyond Kabul's capacity."
    assert lf(s(text, attributed=True, side="kabul")) == "pro_kabul"
    assert lf(s(text, attributed=True, side="islamabad")) == "pro_islamabad"
    assert lf(s(text, attributed=False, side="kabul")) is None  # not reported speech
    assert lf(s(text, attributed=True, side="third_party")) is None  # side not mapped
    assert lf(s(text, attributed=True, side=float("nan"))) is None  # pandas NaN


def test_attribution_abstains_on_claim_with_rebuttal() -> None:
    lf = AttributionLF("att", SIDE_LABELS)
    text = "Islamabad accuses Kabul of sheltering TTP fighters, a claim the Taliban deny."
    assert lf(s(text, attributed=True, side="islamabad")) is None


def test_attribution_reporting_verbs_filter() -> None:
    lf = AttributionLF("att", SIDE_LABELS, reporting_verbs=["insisted"])
    assert lf(s("Kabul insisted it allows no one to use its soil.", attributed=True, side="kabul")) == "pro_kabul"
    assert lf(s("Kabul said it allows no one to use its soil.", attributed=True, side="kabul")) is None


def test_attribution_resolves_speaker_next_to_the_verb() -> None:
    lf = AttributionLF("att", SIDE_LABELS, resolve_speaker=True, actors=GAZ, extra_actors=ADJ)
    # the row's speaker_side is ignored in this mode
    assert lf(s("Afghan officials said the strikes violated Afghan airspace.", attributed=True,
                side="islamabad")) == "pro_kabul"
    assert lf(s("The talks failed, Pakistani officials said.", attributed=True)) == "pro_islamabad"
    assert lf(s("According to Pakistani officials, the attackers came from across the border.",
                attributed=True)) == "pro_islamabad"
    # a place, not a speaker
    assert lf(s("A lecturer at a university in Kabul said the ceasefire was fragile.", attributed=True)) is None
    # speakers of both sides -> abstain
    assert lf(s("Pakistani officials said the talks failed, while Afghan officials said they succeeded.",
                attributed=True)) is None
    third = AttributionLF("third", side_labels={"third_party": "neutral"}, resolve_speaker=True, actors=GAZ)
    assert third(s("Turkish mediators said the talks would resume next week.", attributed=True)) == "neutral"
    assert third(s("Afghan officials said the talks would resume.", attributed=True)) is None


# --------------------------------------------------------------------------- lexicons and patterns


def test_lexicon_fires_on_terms_and_respects_exclusions() -> None:
    lf = LexiconLF("isl", "pro_islamabad", terms=[r"(shown|showed) (\w+ )?restraint", "fitna[ -]al[ -]khawarij"],
                   exclude=[r"urg\w*[^.]{0,40}restraint"])
    assert lf(s("Pakistan has shown extraordinary restraint for two years.")) == "pro_islamabad"
    assert lf(s("Security forces killed ten Fitna al-Khawarij terrorists.")) == "pro_islamabad"
    assert lf(s("Qatar urged both countries, which had showed restraint, to talk.")) is None
    assert lf(s("The talks were held in Istanbul.")) is None
    assert lf(s("Restraintless fighting")) is None  # word boundaries
    assert lf.matches("They showed great restraint.") == ["showed great restraint"]


def test_lexicon_min_matches_and_validation() -> None:
    lf = LexiconLF("two", "neutral", terms=["talks", "mediators"], min_matches=2)
    assert lf(s("The talks went on.")) is None
    assert lf(s("The mediators said the talks went on.")) == "neutral"
    with pytest.raises(ValueError):
        LexiconLF("bad", "neutral", terms=["("])
    # labels are checked against the scheme when votes are aggregated (stance.annotation.aggregate)
    with pytest.raises(ConfigError, match="side_labels is empty"):
        AttributionLF("bad")
    with pytest.raises(ConfigError, match="gazetteer"):
        RetaliationLF("bad", side_labels=SIDE_LABELS)


def test_pattern_lf_abstains_when_two_labels_match() -> None:
    lf = PatternLF("bf", {"pro_islamabad": [r"taliban posts[^.]{0,20}destroyed"],
                          "pro_kabul": [r"pakistani posts[^.]{0,20}destroyed"]})
    assert lf(s("Several Taliban posts were destroyed overnight.")) == "pro_islamabad"
    assert lf(s("Several Pakistani posts were destroyed overnight.")) == "pro_kabul"
    assert lf(s("Taliban posts were destroyed and Pakistani posts were destroyed.")) is None
    assert lf(s("Nothing happened.")) is None


def test_claim_rebuttal_is_neutral() -> None:
    lf = ClaimRebuttalLF(label="neutral")
    assert lf(s("Islamabad accuses Kabul of sheltering TTP fighters, a claim the Taliban deny.")) == "neutral"
    assert lf(s("Pakistan has long accused the Taliban of harbouring the TTP, a charge Kabul denies.")) == "neutral"
    assert lf(s("Pakistan blamed Kabul for the attack, which the Taliban rejected.")) == "neutral"
    assert lf(s("Afghan officials reject those allegations and say Pakistan is exporting its failures.")) is None


def test_retaliation_resolves_the_responder() -> None:
    lf = RetaliationLF(actors=GAZ, extra_actors=ADJ, side_labels=SIDE_LABELS)
    assert lf(s("Afghan forces responded to Pakistani shelling of civilian areas.")) == "pro_kabul"
    assert lf(s("In retaliation, Pakistani jets struck TTP hideouts.")) == "pro_islamabad"
    assert lf(s("In response to Pakistani strikes, Afghan forces attacked border posts.")) == "pro_kabul"
    assert lf(s("Pakistan said its strikes were retaliation for attacks by the TTP.")) == "pro_islamabad"
    assert lf(s("Pakistani officials did not respond to that allegation.")) is None
    assert lf(s("Afghan forces attacked border posts.")) is None  # no cue
    assert lf(s("In retaliation, the militants attacked.")) is None  # no side resolvable


def test_curly_quotes_are_normalised() -> None:
    lf = LexiconLF("k", "pro_kabul", terms=["beyond (kabul's|our) capacity"])
    assert lf(s("The demand was “beyond Kabul’s capacity”.")) == "pro_kabul"


# --------------------------------------------------------------------------- the packaged config


CASES = [
    ("attribution_sides", s("The Taliban government's spokesman said Pakistan's demands were unrealistic.", attributed=True), "pro_kabul"),
    ("attribution_third_party", s("Qatar's foreign ministry said both delegations would meet again.", attributed=True), "neutral"),
    ("lexicon_islamabad_vocab", s("The army said it had killed eight terrorists of Fitna al-Khawarij."), "pro_islamabad"),
    ("lexicon_islamabad_vocab", s("The Torkham crossing remained closed on Sunday."), None),
    ("lexicon_islamabad_framing", s("The attack was launched from Afghan soil, officials said."), "pro_islamabad"),
    ("lexicon_islamabad_framing", s("Kabul is playing a blame game."), "pro_islamabad"),
    ("lexicon_islamabad_framing", s("Saudi Arabia urged both countries to show restraint."), None),
    ("lexicon_kabul", s("The strikes violated Afghan sovereignty."), "pro_kabul"),
    ("lexicon_kabul", s("The TTP is Pakistan's internal problem."), "pro_kabul"),
    ("lexicon_kabul", s("Afghanistan will not allow anyone to use its territory against another country."), "pro_kabul"),
    ("lexicon_kabul", s("The talks were held in Doha."), None),
    ("casualty_blame", s("Pakistani air strikes hit homes in Paktika, killing civilians."), "pro_kabul"),
    ("both_sides", s("Both sides accused each other of starting the fighting."), "neutral"),
    ("both_sides", s("Pakistan accused Kabul of sheltering militants."), None),
    ("procedural", s("The talks, mediated by Turkey and Qatar, ended on Friday."), "neutral"),
    ("claim_rebuttal", s("Islamabad accuses Kabul of sheltering TTP fighters, a claim the Taliban deny."), "neutral"),
    ("retaliation", s("Afghan forces responded to Pakistani shelling in Spin Boldak."), "pro_kabul"),
    ("battlefield", s("Several Taliban posts were destroyed, the military said."), "pro_islamabad"),
]


@pytest.fixture(scope="module")
def packaged_lfs() -> dict:
    from hydra import compose, initialize_config_dir

    import stance.cli._hydra  # noqa: F401
    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        node = compose(config_name="label").annotation
    node.lfs.prototype = None  # tested separately (loads MiniLM)
    return {lf.name: lf for lf in labeler_from_config(node).lfs}


@pytest.mark.parametrize(("name", "sentence", "expected"), CASES)
def test_packaged_lfs(packaged_lfs: dict, name: str, sentence: dict, expected: str | None) -> None:
    assert packaged_lfs[name](sentence) == expected


def test_apply_lfs_table_and_unique_names() -> None:
    a = LexiconLF("a", "neutral", ["talks"])
    b = LexiconLF("b", "pro_kabul", ["sovereignty"])
    df = pd.DataFrame({"text": ["talks", "sovereignty talks", "nothing"]}, index=[10, 11, 12])
    votes = apply_lfs([a, b], df)
    assert list(votes.columns) == ["a", "b"] and list(votes.index) == [10, 11, 12]
    assert votes.loc[11].tolist() == ["neutral", "pro_kabul"]
    assert votes.loc[12].tolist() == [None, None]
    with pytest.raises(ValueError, match="unique"):
        apply_lfs([a, LexiconLF("a", "neutral", ["x"])], df)


# --------------------------------------------------------------------------- embedding prototypes


PROTOS = [
    {"label": "pro_kabul", "text": "Pakistani air strikes violated Afghan sovereignty and killed civilians."},
    {"label": "pro_islamabad", "text": "Terrorists attack Pakistan from safe havens on Afghan soil."},
    {"label": "neutral", "text": "The talks were held in Istanbul and mediated by Turkey and Qatar."},
]


@pytest.fixture(scope="module")
def proto_lf() -> PrototypeLF:
    return PrototypeLF("prototype", labels=LABELS, prototypes=PROTOS, k=1, margin=0.05, min_similarity=0.2)


@pytest.mark.slow
def test_prototype_lf_votes_nearest_label(proto_lf: PrototypeLF) -> None:
    votes = proto_lf.apply_batch([
        s("Afghan civilians were killed when Pakistani jets bombed villages, breaching Afghanistan's sovereignty."),
        s("Negotiations hosted by Qatar and Turkey took place in Istanbul."),
    ])
    assert votes == ["pro_kabul", "neutral"]
    assert proto_lf(s("Negotiations hosted by Qatar and Turkey took place in Istanbul.")) == "neutral"


@pytest.mark.slow
def test_prototype_lf_abstains_under_margin(proto_lf: PrototypeLF) -> None:
    strict = PrototypeLF("p", labels=LABELS, prototypes=PROTOS, k=1, margin=0.9)
    strict._emb = proto_lf._proto_embeddings()  # reuse embeddings
    assert strict(s("Negotiations hosted by Qatar and Turkey took place in Istanbul.")) is None
    far = PrototypeLF("p", labels=LABELS, prototypes=PROTOS, k=1, margin=0.0, min_similarity=0.99)
    far._emb = proto_lf._proto_embeddings()
    assert far(s("A recipe for lemon cake with butter and sugar.")) is None


def test_prototype_fit_uses_train_gold_only_and_skips_own_article() -> None:
    df = pd.DataFrame([
        {"sentence_id": "a", "article_id": "A1", "text": "train kabul", "label": "pro_kabul", "split": "train"},
        {"sentence_id": "b", "article_id": "A2", "text": "train neutral", "label": "neutral", "split": "train"},
        {"sentence_id": "c", "article_id": "A3", "text": "unlabelled", "label": None, "split": "train"},
        {"sentence_id": "d", "article_id": "A4", "text": "validation", "label": "neutral", "split": "validation"},
        {"sentence_id": "e", "article_id": "T1", "text": "TEST SENTENCE", "label": "pro_islamabad", "split": "test"},
    ])
    lf = PrototypeLF("p", labels=LABELS, gold_per_label=-1).fit(df)
    texts = {p["text"] for p in lf.prototypes_}
    assert texts == {"train kabul", "train neutral"}
    with pytest.raises(ValueError, match="split"):
        PrototypeLF("p", labels=LABELS, gold_per_label=-1).fit(df.drop(columns="split"))


@pytest.mark.slow
def test_prototype_excludes_same_article(proto_lf: PrototypeLF) -> None:
    lf = PrototypeLF("p", labels=LABELS, k=1, margin=0.0)
    lf._set_prototypes([dict(p, article_id=f"art{i}", sentence_id=f"s{i}") for i, p in enumerate(PROTOS)])
    lf._emb = proto_lf._proto_embeddings()
    query = {"text": PROTOS[0]["text"], "article_id": "art0", "sentence_id": "s0"}
    scores = lf.scores([query])
    assert pd.isna(scores[0, 1])
    assert lf({"text": PROTOS[0]["text"], "article_id": "other"}) == "pro_kabul"
