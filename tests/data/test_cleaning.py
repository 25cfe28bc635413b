"""Text repair and page-furniture removal (stance.data.cleaning)."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from hydra.utils import instantiate

from stance.data.cleaning import (
    DEFAULT_FURNITURE,
    Cleaner,
    fix_residual_mojibake,
    is_heading,
    merge_counts,
)
from stance.resources import config_dir

BODY1 = "Pakistan's defence minister said on Friday that the peace talks had collapsed."
BODY2 = "The Taliban spokesman said the demands were beyond Kabul's capacity."


# --------------------------------------------------------------------------- repair


def test_ftfy_repairs_whole_string_mojibake_and_keeps_curly_quotes():
    broken = "Pakistanâ€™s minister called it â€œa violationâ€\x9d â€” again."
    assert Cleaner().repair(broken) == "Pakistan’s minister called it “a violation” — again."


def test_residual_single_letter_mojibake_is_repaired():
    # ftfy leaves a lone mis-decoded letter in otherwise clean text; the residual pass fixes it
    assert fix_residual_mojibake("ErdoÄŸan") == "Erdoğan"
    assert Cleaner().repair("President ErdoÄŸan said the talks would resume.") == (
        "President Erdoğan said the talks would resume."
    )
    cleaned = Cleaner().clean("Turkish President ErdoÄŸan said Ankara would keep mediating.")
    assert cleaned.lines == ["Turkish President Erdoğan said Ankara would keep mediating."]


@pytest.mark.parametrize("text", ["Zürich and Ærøskøbing", "ÄÖÜ äöü", "café naïve", "Erdoğan"])
def test_residual_repair_leaves_legitimate_accents_alone(text):
    assert fix_residual_mojibake(text) == text


def test_fix_text_false_leaves_mojibake():
    assert Cleaner(fix_text=False).repair("ErdoÄŸan") == "ErdoÄŸan"


def test_repair_normalises_nbsp_and_line_endings():
    assert Cleaner().repair("a\u00a0b\r\nc\rd") == "a b\nc\nd"


# --------------------------------------------------------------------------- furniture


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("Our website uses cookies to enhance your experience. Learn More", "cookie_banner"),
        ("We use cookies. By continuing you accept our cookie policy", "cookie_banner"),
        ("Accept !", "cookie_button"),
        ("Ok, Go it!", "cookie_button"),
        ("Post a Comment", "comments"),
        ("Post a Comment (0)", "comments"),
        ("0Comments", "comments"),
        ("3 Comments", "comments"),
        ("Leave a Reply", "comments"),
        ("Share on Facebook", "share"),
        ("Share this article", "share"),
        ("Tweet", "share"),
        ("Subscribe to our newsletter", "subscribe"),
        ("Sign up for our newsletter and get updates", "subscribe"),
        ("Follow us on Twitter", "subscribe"),
        ("0", "counter"),
        ("1234", "counter"),
        ("#buttons=(Ok, Go it!) #days=(20)", "widget_config"),
        ("buttons=(Accept !) days=(20)", "widget_config"),
        ("Read more: Border clashes continue", "read_more"),
        ("Tags: Pakistan, Afghanistan, Taliban", "tags"),
        ("Download our app for breaking news alerts.", "app_store"),
        ("By John Smith", "byline"),
    ],
)
def test_each_furniture_rule_drops_and_counts_its_line(line, rule):
    cleaned = Cleaner().clean(f"{BODY1}\n{line}\n{BODY2}")
    assert cleaned.lines == [BODY1, BODY2]
    assert cleaned.removed == Counter({rule: 1})
    assert cleaned.removed_lines == [(rule, line)]
    assert cleaned.title is None


def test_page_with_furniture_counts_every_removed_line():
    page = "\n".join(
        [
            BODY1,
            "Our website uses cookies to enhance your experience. Learn More",
            "Accept !",
            "",
            "   Post a Comment   ",
            "0Comments",
            BODY2,
            "Share on Facebook",
            "Subscribe to our newsletter",
            "12",
            "#buttons=(Ok, Go it!) #days=(20)",
        ]
    )
    cleaned = Cleaner().clean(page)
    assert cleaned.lines == [BODY1, BODY2]
    assert cleaned.removed == Counter(
        cookie_banner=1, cookie_button=1, comments=2, share=1, subscribe=1, counter=1, widget_config=1
    )
    assert sum(cleaned.removed.values()) == len(cleaned.removed_lines) == 8


def test_merge_counts_sums_counters():
    assert merge_counts([Counter(heading=2), Counter(heading=1, counter=3), Counter()]) == Counter(
        heading=3, counter=3
    )


# --------------------------------------------------------------------------- headings and title


@pytest.mark.parametrize(
    "heading",
    [
        "Security Concerns Escalate",
        "Regional Implications",
        "What Comes Next?",
        "- Cross-border security cooperation",
        "Pakistan’s Position: “Afghanistan Must Take Responsibility”",
    ],
)
def test_headings_are_dropped_and_counted(heading):
    cleaned = Cleaner().clean(f"{BODY1}\n{heading}\n{BODY2}")
    assert cleaned.lines == [BODY1, BODY2]
    assert cleaned.removed == Counter(heading=1)
    assert cleaned.removed_lines == [("heading", heading)]


def test_headings_kept_when_drop_headings_is_false():
    cleaned = Cleaner(drop_headings=False).clean(f"{BODY1}\nRegional Implications\n{BODY2}")
    assert cleaned.lines == [BODY1, "Regional Implications", BODY2]
    assert cleaned.removed == Counter()


def test_is_heading_limits():
    assert is_heading("Talks Implode Amid Trust Deficit")
    assert not is_heading("The talks failed.")
    assert not is_heading("")
    long_line = " ".join(["word"] * 15)
    assert not is_heading(long_line, max_words=14)
    assert is_heading(long_line, max_words=15)
    # a question is a heading only when short and in Title Case
    assert not is_heading("Why did the talks fail, and who is to blame for it?")


def test_title_taken_from_heading_like_first_line_when_none_given():
    cleaned = Cleaner().clean(f"Pakistan Claims Peace Talks Collapse\n{BODY1}\nBackground\n{BODY2}")
    assert cleaned.title == "Pakistan Claims Peace Talks Collapse"
    assert cleaned.lines == [BODY1, BODY2]
    # the title is not counted as removed furniture; the later heading is
    assert cleaned.removed == Counter(heading=1)


def test_long_headline_still_becomes_the_title():
    headline = " ".join(["Headline"] * 20)  # longer than heading_max_words (14), up to 25
    cleaned = Cleaner().clean(f"{headline}\n{BODY1}")
    assert cleaned.title == headline
    assert cleaned.lines == [BODY1]


def test_given_title_wins_and_first_line_is_counted_as_heading():
    cleaned = Cleaner().clean(f"Pakistan Claims Peace Talks Collapse\n{BODY1}", title="Given title")
    assert cleaned.title == "Given title"
    assert cleaned.lines == [BODY1]
    assert cleaned.removed_lines == [("heading", "Pakistan Claims Peace Talks Collapse")]


def test_no_title_when_first_line_is_a_sentence_or_furniture_or_disabled():
    assert Cleaner().clean(f"{BODY1}\n{BODY2}").title is None
    assert Cleaner().clean(f"{BODY1}\n{BODY2}").lines == [BODY1, BODY2]
    cookie = Cleaner().clean(f"Cookie policy\n{BODY1}")
    assert cookie.title is None
    assert cookie.removed == Counter(cookie_banner=1)
    off = Cleaner(title_from_first_line=False).clean(f"Pakistan Claims Peace Talks Collapse\n{BODY1}")
    assert off.title is None
    assert off.removed == Counter(heading=1)


# --------------------------------------------------------------------------- configuration


def test_custom_furniture_patterns_replace_the_defaults():
    cleaner = Cleaner(furniture_patterns={"advert": r"^ADVERTISEMENT$"}, drop_headings=False)
    cleaned = cleaner.clean(f"{BODY1}\nADVERTISEMENT\nPost a Comment\n{BODY2}")
    assert cleaned.removed == Counter(advert=1)
    assert cleaned.lines == [BODY1, "Post a Comment", BODY2]


def test_empty_furniture_patterns_drop_nothing():
    cleaned = Cleaner(furniture_patterns={}, drop_headings=False).clean(f"{BODY1}\nShare\n12")
    assert cleaned.lines == [BODY1, "Share", "12"]
    assert not cleaned.removed


def test_default_patterns_are_used_when_none():
    assert Cleaner().furniture_patterns == DEFAULT_FURNITURE


def test_cleaner_instantiated_from_the_bundled_config():
    cfg = yaml.safe_load((config_dir() / "data" / "cleaning" / "default.yaml").read_text())
    cleaner = instantiate(cfg)
    assert isinstance(cleaner, Cleaner)
    assert cleaner.furniture_patterns == DEFAULT_FURNITURE  # the config adds nothing of its own
    cleaned = cleaner.clean(f"{BODY1}\nPost a Comment (0)\n#buttons=(Ok, Go it!) #days=(20)\n{BODY2}")
    assert cleaned.lines == [BODY1, BODY2]
    assert cleaned.removed == Counter(comments=1, widget_config=1)


def test_custom_pattern_through_config_dict():
    cfg = {
        "_target_": "stance.data.cleaning.Cleaner",
        "furniture_patterns": {"promo": "(?i)^sponsored content"},
    }
    cleaned = instantiate(cfg).clean(f"{BODY1}\nSponsored content from our partners\n{BODY2}")
    assert cleaned.removed == Counter(promo=1)
    assert cleaned.lines == [BODY1, BODY2]


# --------------------------------------------------------------------------- body text survives


@pytest.mark.parametrize(
    "sentence",
    [
        BODY1,
        "He said 12 soldiers died in the clashes.",
        "Islamabad: The talks failed.",
        "By then it was over.",  # not a byline: the names after "By" must be capitalised
        "The Taliban said they would share intelligence with Qatar.",
        "Comments made by the minister drew criticism in Kabul.",
        "Subscribers to the service were notified on Monday.",
        "Follow-up talks are planned for next week.",
        "“We will respond to any aggression,” he said.",
        "Accepting the offer, the delegation returned to Doha.",
        "Why did the talks fail, and who is to blame for it?",
    ],
)
def test_normal_body_sentences_are_never_dropped(sentence):
    cleaned = Cleaner().clean(sentence)
    assert cleaned.lines == [sentence]
    assert not cleaned.removed
    assert cleaned.title is None
    # also when it sits between other body lines and a title is given
    cleaned = Cleaner().clean(f"{BODY1}\n{sentence}\n{BODY2}", title="T")
    assert sentence in cleaned.lines


def test_extra_patterns_add_to_the_defaults_and_params_rebuild_the_cleaner() -> None:
    cleaner = Cleaner(extra_patterns={"advert": r"^ADVERTISEMENT$", "share": r"^SHARE NOW$"})
    assert set(cleaner.furniture_patterns) == set(DEFAULT_FURNITURE) | {"advert"}
    assert cleaner.furniture_patterns["share"] == r"^SHARE NOW$"  # same name: replaces the default
    cleaned = cleaner.clean(f"{BODY1}\nADVERTISEMENT\nSHARE NOW\n{BODY2}")
    assert cleaned.lines == [BODY1, BODY2]
    again = Cleaner(**cleaner.params())
    assert again.params() == cleaner.params() and again.clean("ADVERTISEMENT").lines == []


@pytest.mark.parametrize(
    "line",
    ["Related talks were held in Doha last week.", "No comments were made by the ministry.",
     "By then it was over."],
)
def test_body_sentences_resembling_furniture_survive(line: str) -> None:
    from stance.data.cleaning import Cleaner

    assert Cleaner().clean(f"First sentence here.\n{line}").lines[-1] == line


@pytest.mark.parametrize("line", ["Related", "Related articles", "Recommended for you", "Related: Kabul talks",
                                  "No comments yet", "Read more: Istanbul round collapses"])
def test_read_more_and_comment_widgets_dropped(line: str) -> None:
    from stance.data.cleaning import Cleaner

    assert Cleaner().clean(f"First sentence here.\n{line}").lines == ["First sentence here."]
