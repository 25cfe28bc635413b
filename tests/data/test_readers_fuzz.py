"""Fuzzed corpora (Hypothesis): every reader either reads a record, skips it with a reason that
names its line, or stops with the package's own error; nothing else escapes and nothing is
lost (stance.data.readers)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stance.data.readers import read_directory, read_table
from stance.errors import StanceError

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
VALUES = st.recursive(SCALARS, lambda v: st.lists(v, max_size=3) | st.dictionaries(st.text(max_size=4), v, max_size=3),
                      max_leaves=6)
FIELD = st.sampled_from(["id", "text", "source", "title", "date", "url", "extra"])
RECORD = st.dictionaries(FIELD, VALUES | st.text(min_size=1, max_size=40), max_size=7)
GOODISH = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=6) | st.integers(),
                                 "text": st.text(min_size=1, max_size=60), "source": st.text(min_size=1, max_size=8)})
LINE = (RECORD.map(lambda r: json.dumps(r, allow_nan=True)) | GOODISH.map(json.dumps)
        | st.binary(max_size=40).map(lambda b: b.decode("latin-1")) | VALUES.map(json.dumps))


def _accounted(res, path: Path, n_lines: int, blank: set[int]) -> None:
    """Every non-blank line is an article or a skip, never both, never neither."""
    read = [int(a.origin.rsplit(":", 1)[1]) for a in res.articles]
    skipped = [int(s.where.rsplit(":", 1)[1]) for s in res.skipped]
    assert not set(read) & set(skipped)
    assert sorted(read + skipped) == [n for n in range(1, n_lines + 1) if n not in blank]
    for a in res.articles:  # what was read is typed as documented
        assert isinstance(a.id, str) and a.id and isinstance(a.text, str) and a.text.strip()
        assert isinstance(a.source, str) and a.source


@FUZZ
@given(lines=st.lists(LINE, min_size=1, max_size=12))
@pytest.mark.slow
def test_fuzzed_jsonl_is_read_or_reported_line_by_line(tmp_path_factory, lines):
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    path = tmp_path_factory.mktemp("jsonl") / "a.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass"))
    try:
        res = read_table(path, on_error="skip")
    except StanceError:
        pytest.fail("a JSONL file with bad lines must be read with on_error='skip', not refused")
    raw_lines = path.read_bytes().split(b"\n")[:-1]
    blank = {i for i, b in enumerate(raw_lines, 1) if not b.strip()}
    _accounted(res, path, len(raw_lines), blank)


@FUZZ
@given(rows=st.lists(st.lists(st.text(max_size=30), min_size=0, max_size=5), max_size=10),
       header=st.sampled_from([["id", "text", "source"], ["id", "text"], ["text", "id", "source", "title"], []]),
       junk=st.sampled_from(["", '"', 'a,"b', "\x00", "\r"]))
def test_fuzzed_csv_reads_reports_or_raises_a_package_error(tmp_path_factory, rows, header, junk):
    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(header)
    for r in rows:
        w.writerow(r)
    path = tmp_path_factory.mktemp("csv") / "a.csv"
    path.write_text(buf.getvalue() + junk, encoding="utf-8")
    try:
        res = read_table(path, on_error="skip")
    except StanceError:
        return  # e.g. no header naming id/text/source: refused with the package's error
    if not path.read_text(encoding="utf-8").strip():
        assert not res.articles and not res.skipped  # an empty file: nothing to read, nothing lost
        return
    assert set(header) >= {"id", "text", "source"}
    assert len(res.articles) + len(res.skipped) <= len(rows) + 1
    for a in res.articles:
        assert a.text.strip() and a.id and a.source


@FUZZ
@given(records=st.lists(RECORD | GOODISH | VALUES, max_size=8))
def test_fuzzed_json_arrays(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("json") / "a.json"
    path.write_text(json.dumps(records, allow_nan=True))
    res = read_table(path, on_error="skip")
    _accounted(res, path, len(records), set())


@FUZZ
@given(files=st.dictionaries(st.sampled_from(["a.txt", "b.md", "c.html", "d.bin", "sub/e.txt", "sub/f.htm"]),
                             st.binary(max_size=200), min_size=1, max_size=6))
def test_fuzzed_directories_list_every_file_they_do_not_read(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("dir")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    try:
        res = read_directory(root, default_source="outlet", on_error="skip")
    except StanceError:
        pytest.fail("with on_error='skip' a directory of odd files is read and reported, not refused")
    seen = {Path(a.origin).relative_to(root).as_posix() for a in res.articles}
    seen |= {Path(s.where).relative_to(root).as_posix() for s in res.skipped}
    assert seen == set(files)
