"""Text repair (ftfy) and removal of page furniture by configurable line rules.

Pure logic: takes a string, returns the cleaned lines and a count of what was removed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ftfy

from stance.data.segment import truncate_text
from stance.errors import ConfigError

DEFAULT_FURNITURE: dict[str, str] = {
    "cookie_banner": r"(?i)\b(uses? cookies|cookies? consent|accept cookies|cookie policy)\b",
    "cookie_button": r"(?i)^(accept\s*!?|ok,? go(t)? it!?|got it!?|learn more)$",
    "widget_config": r"(?i)^#?buttons=\(.*\)|#?days=\(\d+\)",
    "comments": r"(?i)^(post a comment.*|\d*\s*comments?|leave a (reply|comment).*|no comments( yet)?\.?)$",
    "share": r"(?i)^(share( this( article)?)?( on \w+)?|tweet|share on (facebook|twitter|x|whatsapp).*)$",
    "subscribe": r"(?i)^(subscribe\b.*|sign up for our newsletter.*|follow us on .*)$",
    "read_more": r"(?i)^(read more\b.*|also read\b.*|(related|recommended)( (articles|stories|news|posts|reading|for you))?\s*(:.*)?)$",
    "tags": r"(?i)^(tags?|topics?|filed under)\s*:.*$",
    "app_store": r"(?i)(download (our|the) app|available on the (app store|google play))",
    "byline": r"^(?i:by|written by|reporting by)\s+[A-Z][\w.'-]*(\s+[A-Z][\w.'-]*){0,3}$",
    "counter": r"^\d{1,4}$",
}
"""Rule name -> regular expression matched (``re.search``) against each stripped line."""

_TERMINAL = re.compile(r"[.!?…:;]['\"’”)\]]*$")
# UTF-8 lead byte read as cp1252/latin-1 followed by continuation bytes read the same way.
_RESIDUAL_MOJIBAKE = re.compile(r"[\u00c2-\u00df][^\x00-\x7f\s]|[\u00e0-\u00ef][^\x00-\x7f\s]{2}")


def _redecode(match: re.Match) -> str:
    chunk = match.group(0)
    try:
        fixed = chunk.encode("sloppy-windows-1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return chunk
    return fixed if len(fixed) == 1 and fixed.isalpha() else chunk


def fix_residual_mojibake(text: str) -> str:
    """Repair isolated mis-decoded letters that ftfy leaves alone (e.g. ``ErdoÄŸan`` -> ``Erdoğan``).

    ftfy only fixes text it judges to be mojibake as a whole; a single mis-decoded letter in
    otherwise clean text passes. Each 2-3 character run is re-decoded with ftfy's sloppy
    cp1252 codec and replaced only if it yields exactly one letter.
    """
    return _RESIDUAL_MOJIBAKE.sub(_redecode, text)


def _is_title_case(line: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", line) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) >= 0.8


@dataclass
class CleanedText:
    """Body lines kept, the title (if taken from the first line) and removal counts per rule."""

    lines: list[str]
    title: str | None = None
    truncated: bool = False  # the text was longer than max_article_chars
    removed: Counter = field(default_factory=Counter)
    removed_lines: list[tuple[str, str]] = field(default_factory=list)  # (rule, line)


def is_heading(line: str, max_words: int = 14) -> bool:
    """A short line with no sentence-final punctuation (section heading, byline, list label),
    or a short Title Case question ("What Comes Next?")."""
    words = line.split()
    if not 0 < len(words) <= max_words:
        return False
    if not _TERMINAL.search(line):
        return True
    return line.endswith("?") and len(words) <= 8 and _is_title_case(line)


class Cleaner:
    """Repairs mojibake and drops page furniture line by line.

    Args:
        furniture_patterns: rule name -> regex; a line matching any rule is dropped and counted.
            ``None`` uses :data:`DEFAULT_FURNITURE` (the one list of default rules).
        extra_patterns: rules added to ``furniture_patterns`` (a rule of the same name replaces
            the default one), so a config can add site-specific furniture without restating
            the defaults.
        drop_headings: drop short lines without sentence-final punctuation (section headings,
            bylines, bullet labels); they are counted under ``heading``.
        heading_max_words: the longest line still treated as a heading.
        title_from_first_line: when an article has no title, take a heading-like first line as it.
        fix_text: repair mis-decoded characters with ftfy.
        max_article_chars: longer article texts are cut (at whitespace) before cleaning and
            counted (``CleanedText.truncated``); build and scoring apply the same limit.
    """

    def __init__(
        self,
        furniture_patterns: Mapping[str, str] | None = None,
        extra_patterns: Mapping[str, str] | None = None,
        drop_headings: bool = True,
        heading_max_words: int = 14,
        title_from_first_line: bool = True,
        fix_text: bool = True,
        max_article_chars: int = 200_000,
    ) -> None:
        patterns = dict(DEFAULT_FURNITURE if furniture_patterns is None else furniture_patterns)
        patterns.update(dict(extra_patterns or {}))
        self.furniture_patterns = patterns
        self._rules = [(name, re.compile(rx)) for name, rx in patterns.items()]
        self.drop_headings = drop_headings
        self.heading_max_words = heading_max_words
        self.title_from_first_line = title_from_first_line
        self.fix_text = fix_text
        if max_article_chars < 100:
            raise ConfigError(f"cleaning.max_article_chars must be >= 100, got {max_article_chars}")
        self.max_article_chars = max_article_chars

    def params(self) -> dict[str, object]:
        """Constructor arguments that rebuild this cleaner (recorded with datasets and models)."""
        return {"furniture_patterns": dict(self.furniture_patterns), "drop_headings": self.drop_headings,
                "heading_max_words": self.heading_max_words, "title_from_first_line": self.title_from_first_line,
                "fix_text": self.fix_text, "max_article_chars": self.max_article_chars}

    def repair(self, text: str) -> str:
        """Fix mojibake and normalise quotes/whitespace oddities, keeping curly quotes."""
        if self.fix_text:
            text = fix_residual_mojibake(ftfy.fix_text(text, uncurl_quotes=False))
        return text.replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n")

    def rule_for(self, line: str) -> str | None:
        """Name of the furniture rule a line matches, or None when it is article text."""
        for name, rx in self._rules:
            if rx.search(line):
                return name
        if self.drop_headings and is_heading(line, self.heading_max_words):
            return "heading"
        return None

    def clean(self, text: str, title: str | None = None) -> CleanedText:
        """Split ``text`` into lines and keep the body lines."""
        out = CleanedText(lines=[], title=title)
        text, out.truncated = truncate_text(text, self.max_article_chars)
        lines = [ln.strip() for ln in self.repair(text).split("\n")]
        lines = [ln for ln in lines if ln]
        if (
            out.title is None
            and self.title_from_first_line
            and lines
            and is_heading(lines[0], max(self.heading_max_words, 25))
            and self.rule_for(lines[0]) in (None, "heading")
        ):
            out.title = lines.pop(0)
        for line in lines:
            rule = self.rule_for(line)
            if rule is None:
                out.lines.append(line)
            else:
                out.removed[rule] += 1
                out.removed_lines.append((rule, line))
        return out


def merge_counts(counts: Sequence[Counter]) -> Counter:
    """Sum removal counters."""
    total: Counter = Counter()
    for c in counts:
        total.update(c)
    return total
