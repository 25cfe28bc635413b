"""Corpus readers: directories, tables, errors (stance.data.readers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stance.data.readers import decode_bytes, iter_table, read_corpus, read_directory, read_table
from stance.errors import InputError

TEXT_A = "Pakistan's defence minister said the talks had collapsed.\nKabul rejected the claim."
TEXT_B = "Turkish mediators said they would keep trying."

ROWS = [
    {"id": "a1", "text": TEXT_A, "source": "Dawn", "title": "Talks collapse", "date": "2025-11-07",
     "url": "https://example.org/a1"},
    {"id": "a2", "text": TEXT_B, "source": "Tolo", "title": None, "date": None, "url": None},
]


def write_jsonl(path: Path, records: list, extra_lines: dict[int, str] | None = None) -> Path:
    """Write records as JSONL; ``extra_lines`` inserts raw lines at given 1-based positions."""
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for pos, raw in sorted((extra_lines or {}).items()):
        lines.insert(pos - 1, raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_rows(articles, path: Path, lines: list[int]) -> None:
    assert [a.id for a in articles] == ["a1", "a2"]
    a1, a2 = articles
    assert (a1.text, a1.source, a1.title, a1.date, a1.url) == (
        TEXT_A, "Dawn", "Talks collapse", "2025-11-07", "https://example.org/a1"
    )
    assert (a2.text, a2.source, a2.title, a2.date, a2.url) == (TEXT_B, "Tolo", None, None, None)
    assert [a.origin for a in articles] == [f"{path}:{n}" for n in lines]


# --------------------------------------------------------------------------- directories


def test_directory_with_manifest_and_subdirectory_sources(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (tmp_path / "dawn").mkdir()
    (tmp_path / "dawn" / "b.md").write_text(TEXT_B, encoding="utf-8")
    manifest = write_jsonl(
        tmp_path / "manifest.jsonl",
        [{"file": "a.txt", "id": "seed-000", "source": "Geo", "title": "Talks collapse", "date": "2025-11-07"}],
    )
    res = read_directory(tmp_path, manifest=manifest)
    by_id = {a.id: a for a in res.articles}
    assert set(by_id) == {"seed-000", "dawn/b"}
    a = by_id["seed-000"]
    assert (a.source, a.title, a.date, a.text) == ("Geo", "Talks collapse", "2025-11-07", TEXT_A)
    assert a.origin == str(tmp_path / "a.txt")
    b = by_id["dawn/b"]
    assert (b.source, b.title) == ("dawn", None)  # source from the sub-directory name
    assert res.skipped == []  # the manifest itself is not an article nor a skipped file


def test_directory_csv_manifest(tmp_path):
    (tmp_path / "x.txt").write_text(TEXT_B, encoding="utf-8")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,id,source\nx.txt,wire-1,Reuters\n", encoding="utf-8")
    res = read_directory(tmp_path, manifest=manifest)
    assert [(a.id, a.source) for a in res.articles] == [("wire-1", "Reuters")]


def test_default_source_applies_to_unlisted_files(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    res = read_directory(tmp_path, default_source="wire")
    assert [(a.id, a.source) for a in res.articles] == [("a", "wire")]


def test_missing_source_raises_and_names_field(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.txt, field 'source': no source") as info:
        read_directory(tmp_path)
    assert info.value.field == "source"


def test_missing_source_skipped(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (tmp_path / "dawn").mkdir()
    (tmp_path / "dawn" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    res = read_directory(tmp_path, on_error="skip")
    assert [a.id for a in res.articles] == ["dawn/b"]
    assert res.skip_counts() == {"missing source": 1}
    assert res.skipped[0].where == str(tmp_path / "a.txt")


def test_manifest_names_missing_file(tmp_path):
    (tmp_path / "dawn").mkdir()
    (tmp_path / "dawn" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"file": "gone.txt", "source": "x"}])
    with pytest.raises(InputError, match="manifest lists 'gone.txt'"):
        read_directory(tmp_path, manifest=manifest)
    res = read_directory(tmp_path, manifest=manifest, on_error="skip")
    assert [a.id for a in res.articles] == ["dawn/b"]
    assert res.skip_counts() == {"missing file": 1}


def test_manifest_listing_a_file_twice_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"file": "a.txt", "source": "x"}, {"file": "a.txt", "source": "y"}])
    with pytest.raises(InputError, match=r"m\.jsonl:2, field 'file': file 'a.txt' listed twice"):
        read_directory(tmp_path, manifest=manifest)


def test_unsupported_files_are_skipped_and_counted(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (tmp_path / "src" / "scan.pdf").write_bytes(b"%PDF-1.4")
    res = read_directory(tmp_path)
    assert [a.id for a in res.articles] == ["src/a"]
    assert res.skip_counts() == {"unsupported file type": 1}
    assert res.skipped[0].reason == "unsupported file type: .pdf"


def test_non_recursive_reads_top_level_only(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    res = read_directory(tmp_path, default_source="s", recursive=False)
    assert [a.id for a in res.articles] == ["a"]


HTML = """<html><head><title>Talks collapse in Istanbul</title></head><body>
<nav>Home | World | Sport | Opinion</nav>
<article><h1>Talks collapse in Istanbul</h1>
<p>Pakistan's defence minister said on Friday that the peace talks with Afghanistan had collapsed after four days of negotiations in Istanbul.</p>
<p>The Taliban spokesman said the demands made by Islamabad were beyond Kabul's capacity and accused Pakistan of failing to negotiate in good faith.</p>
<p>Turkish mediators said they would continue their efforts to bring the two sides back to the table in the coming weeks.</p>
</article></body></html>"""


def test_html_is_extracted_with_trafilatura(tmp_path):
    (tmp_path / "dawn").mkdir()
    (tmp_path / "dawn" / "talks.html").write_text(HTML, encoding="utf-8")
    res = read_directory(tmp_path)
    (a,) = res.articles
    assert (a.id, a.source, a.title) == ("dawn/talks", "dawn", "Talks collapse in Istanbul")
    assert "<p>" not in a.text and "Home | World" not in a.text
    assert "peace talks with Afghanistan had collapsed" in a.text
    assert "Turkish mediators said" in a.text
    assert len(a.text.splitlines()) >= 3  # paragraphs stay on separate lines


def test_cp1252_bytes_are_decoded_with_fallback_and_counted(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.txt").write_bytes("The minister\x92s office said \x93no\x94 on Friday.".encode("latin-1"))
    (tmp_path / "s" / "b.txt").write_bytes("\ufeffUTF-8 text with a BOM: Erdoğan said so.".encode())
    res = read_directory(tmp_path)
    texts = {a.id: a.text for a in res.articles}
    assert texts["s/a"] == "The minister’s office said “no” on Friday."
    assert texts["s/b"] == "UTF-8 text with a BOM: Erdoğan said so."
    assert res.decoded_with_fallback == 1


def test_decode_bytes():
    assert decode_bytes("Erdoğan".encode()) == ("Erdoğan", False)
    assert decode_bytes(b"caf\xe9") == ("café", True)


def test_empty_file_raises_or_is_skipped(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "empty.txt").write_text("  \n\n ", encoding="utf-8")
    (tmp_path / "s" / "ok.txt").write_text(TEXT_B, encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.txt: file has no text"):
        read_directory(tmp_path)
    res = read_directory(tmp_path, on_error="skip")
    assert [a.id for a in res.articles] == ["s/ok"]
    assert res.skip_counts() == {"empty": 1}


def test_missing_or_wrong_directory(tmp_path):
    with pytest.raises(InputError, match="directory does not exist"):
        read_directory(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="expected a directory"):
        read_directory(tmp_path / "f.txt")


# --------------------------------------------------------------------------- tables


def test_jsonl_table(tmp_path):
    path = write_jsonl(tmp_path / "articles.jsonl", ROWS, extra_lines={2: ""})  # blank line 2
    res = read_table(path)
    check_rows(res.articles, path, [1, 3])
    assert res.skipped == []


def test_json_array_table(tmp_path):
    path = tmp_path / "articles.json"
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    check_rows(read_table(path).articles, path, [1, 2])


def test_csv_table(tmp_path):
    path = tmp_path / "articles.csv"
    path.write_text(
        "id,text,source,title,date,url\n"
        f'a1,"{TEXT_A}",Dawn,Talks collapse,2025-11-07,https://example.org/a1\n'
        f"a2,{TEXT_B},Tolo,,,\n",
        encoding="utf-8",
    )
    # the quoted text spans two physical lines: row numbers are where each record ends
    check_rows(read_table(path).articles, path, [3, 4])


def test_parquet_table(tmp_path):
    path = tmp_path / "articles.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    check_rows(read_table(path).articles, path, [1, 2])


def test_custom_field_names_and_default_source(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"doc": 7, "body": TEXT_B}])
    res = read_table(path, id_field="doc", text_field="body", default_source="wire")
    (a,) = res.articles
    assert (a.id, a.text, a.source) == ("7", TEXT_B, "wire")


def test_read_corpus_dispatches_on_directory_or_table(tmp_path):
    table = write_jsonl(tmp_path / "t.jsonl", ROWS)
    assert [a.id for a in read_corpus(table).articles] == ["a1", "a2"]
    d = tmp_path / "dir" / "dawn"
    d.mkdir(parents=True)
    (d / "x.txt").write_text(TEXT_B, encoding="utf-8")
    assert [a.id for a in read_corpus(tmp_path / "dir").articles] == ["dawn/x"]


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ROWS, extra_lines={2: '{"id": "broken", "text": '})
    with pytest.raises(InputError, match=r"bad\.jsonl:2: malformed JSON") as info:
        read_table(path)
    assert info.value.line == 2
    assert info.value.path == str(path)


def test_malformed_jsonl_line_skipped_and_rest_read(tmp_path):
    path = write_jsonl(
        tmp_path / "bad.jsonl", ROWS, extra_lines={2: '{"id": "broken", "text": ', 4: "[1, 2]"}
    )
    res = read_table(path, on_error="skip")
    check_rows(res.articles, path, [1, 3])
    assert res.skip_counts() == {"malformed record": 2}
    assert [s.where for s in res.skipped] == [f"{path}:2", f"{path}:4"]
    assert "expected a JSON object, got list" in res.skipped[1].reason


def test_missing_required_field_names_the_field(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [ROWS[0], {"id": "a3", "text": TEXT_B}])
    with pytest.raises(InputError, match=r"t\.jsonl:2, field 'source': required field missing") as info:
        read_table(path)
    assert info.value.field == "source"
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a1"]
    assert res.skip_counts() == {"missing source": 1}


def test_blank_text_counts_as_missing(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": "a1", "text": "   ", "source": "s"}])
    with pytest.raises(InputError, match="field 'text'"):
        read_table(path)


def test_iter_table_checks_required_fields(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"k": 1, "v": "x"}, {"k": 2}])
    assert list(iter_table(path, ("k",))) == [(1, {"k": 1, "v": "x"}), (2, {"k": 2})]
    with pytest.raises(InputError, match=r":2, field 'v'"):
        list(iter_table(path, ("k", "v")))


def test_missing_table_file(tmp_path):
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'nope.jsonl'}: file does not exist")):
        read_table(tmp_path / "nope.jsonl")


def test_unsupported_table_format(tmp_path):
    path = tmp_path / "articles.xml"
    path.write_text("<a/>", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported table format '.xml'"):
        read_table(path)


def test_csv_row_with_too_many_cells(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"id,text,source\na1,{TEXT_B},Dawn\na2,Talks failed, again.,Tolo\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv:3: row has more cells than the header"):
        read_table(path)
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a1"]
    assert res.skip_counts() == {"malformed record": 1}


# --------------------------------------------------------------------------- regressions


def test_jsonl_string_with_unicode_line_separators_is_one_record(tmp_path):
    # json.dumps(ensure_ascii=False) writes U+2028/U+0085 raw; they must not split a JSONL line
    rows = [{"id": "a1", "text": "First.\u2028Second\x85 part.", "source": "s"}, {"id": "a2", "text": "x", "source": "s"}]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    res = read_table(path)
    assert [a.text for a in res.articles] == ["First.\u2028Second\x85 part.", "x"]
    assert [a.origin for a in res.articles] == [f"{path}:1", f"{path}:2"]


def test_jsonl_with_crlf_line_endings(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(("\r\n".join(json.dumps(r) for r in ROWS) + "\r\n").encode())
    check_rows(read_table(path).articles, path, [1, 2])


def test_csv_quoted_field_keeps_its_newline(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,text,source\na1,"First para.\nSecond para.",s\na2,plain\u2028text,s\n', encoding="utf-8")
    res = read_table(path)
    assert [a.text for a in res.articles] == ["First para.\nSecond para.", "plain\u2028text"]


# --------------------------------------------------------------------------- hostile input


def _corpus_with_links(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "corpus", tmp_path / "private"
    (root / "dawn").mkdir(parents=True)
    outside.mkdir()
    (root / "dawn" / "a.txt").write_text("An article in the corpus.")
    (outside / "secret.txt").write_text("A file that is not part of the corpus.")
    (root / "dawn" / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "dawn" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    (root / "dawn" / "alias.txt").symlink_to(root / "dawn" / "a.txt")
    return root, outside


def test_directory_reader_never_reads_outside_its_root(tmp_path):
    root, _ = _corpus_with_links(tmp_path)
    for follow in (False, True):
        res = read_directory(root, follow_symlinks=follow)
        assert all("not part of the corpus" not in a.text for a in res.articles)
        reasons = {Path(s.where).name: s.reason for s in res.skipped}
        assert reasons["leak.txt"].startswith("symlink not followed: outside the root")
        assert reasons["gone.txt"].startswith("dangling symlink")
        assert reasons["linked_dir"].startswith("symlinked directory: outside the root")
    ids = sorted(a.id for a in read_directory(root).articles)
    assert ids == ["dawn/a"]  # the in-root alias is listed as not followed by default ...
    assert sorted(a.id for a in read_directory(root, follow_symlinks=True).articles) == ["dawn/a", "dawn/alias"]


def test_manifest_rows_outside_the_root_are_refused(tmp_path):
    root, _ = _corpus_with_links(tmp_path)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,source\n../private/secret.txt,Dawn\ndawn/a.txt,Dawn\n")
    with pytest.raises(InputError, match="outside the corpus root") as e:
        read_directory(root, manifest=manifest)
    assert e.value.line == 2 and e.value.field == "file"
    res = read_directory(root, manifest=manifest, on_error="skip")
    assert [a.id for a in res.articles] == ["dawn/a"]
    assert any(s.reason.startswith("outside the root") for s in res.skipped)


def test_one_cp1252_line_does_not_re_decode_the_other_lines(tmp_path):
    good = [{"id": f"u{i}", "text": f"Erdoğan and Dar met in Doha — round {i}.", "source": "Dawn"} for i in range(3)]
    bad = json.dumps({"id": "w1", "text": "The minister’s “red line”.", "source": "Dawn"}, ensure_ascii=False)
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in good]
    lines.insert(1, bad.encode("cp1252"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = read_table(path)
    texts = {a.id: a.text for a in res.articles}
    assert [texts[f"u{i}"] for i in range(3)] == [r["text"] for r in good]  # UTF-8 lines untouched
    assert texts["w1"] == "The minister’s “red line”."  # the cp1252 line repaired
    assert res.decoded_with_fallback == 1 and res.fallback_where == [f"{path}:2"]


def test_csv_unterminated_quote_is_reported_and_the_following_rows_are_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,text,source\na1,"first article,Dawn\na2,second article,Tolo\na3,third article,Dawn\n')
    with pytest.raises(InputError, match="unterminated quoted field") as e:
        read_table(path)
    assert e.value.line == 2
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a2", "a3"]
    assert [a.origin for a in res.articles] == [f"{path}:3", f"{path}:4"]
    assert [s.where for s in res.skipped] == [f"{path}:2"]


def test_csv_without_a_header_row_is_an_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a1,first article,Dawn\na2,second article,Tolo\n")
    with pytest.raises(InputError, match="header") as e:
        read_table(path, on_error="skip")
    assert e.value.line == 1


def test_csv_fields_longer_than_the_csv_module_default_are_read(tmp_path):
    text = "word " * 60_000  # 300,000 characters > csv's default 131,072
    path = tmp_path / "long.csv"
    path.write_text(f'id,text,source\na1,"{text}",Dawn\n')
    assert read_table(path).articles[0].text == text
    with pytest.raises(InputError, match="field larger than field limit") as e:
        read_table(path, max_field_chars=1000)
    assert e.value.line == 2


@pytest.mark.parametrize("value, kind", [(3, "int"), (["a", "b"], "list"), ({"t": 1}, "dict"), (True, "bool"),
                                         (1.5, "float")])
def test_text_of_the_wrong_type_is_refused_not_coerced(tmp_path, value, kind):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "text": value, "source": "Dawn"}, ROWS[1]])
    with pytest.raises(InputError, match=f"expected a string, got {kind}") as e:
        read_table(path)
    assert (e.value.line, e.value.field) == (1, "text")
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a2"] and res.skipped[0].where == f"{path}:1"


def test_ids_are_strings_or_integers_and_sources_strings(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [
        {"id": 7, "text": "Seven.", "source": "Dawn"},
        {"id": True, "text": "A boolean id.", "source": "Dawn"},
        {"id": 1.5, "text": "A float id.", "source": "Dawn"},
        {"id": "a4", "text": "A numeric source.", "source": 12},
        {"id": ["x"], "text": "A list id.", "source": "Dawn"},
    ])
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["7"]
    assert [(s.where.rsplit(":", 1)[1], s.reason.split(":")[0]) for s in res.skipped] == [
        ("2", "bad field id"), ("3", "bad field id"), ("4", "bad field source"), ("5", "bad field id")]


def test_json_array_with_a_non_object_element(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([ROWS[0], "not an article", 3, ROWS[1]]))
    with pytest.raises(InputError, match="array element 2 is a str"):
        read_table(path)
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a1", "a2"] and len(res.skipped) == 2


@pytest.mark.parametrize("content", [b"", b"PAR1", b"PAR1 truncated garbage PAR1", b"not parquet at all"])
def test_corrupt_or_empty_parquet_is_an_input_error(tmp_path, content):
    path = tmp_path / "a.parquet"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a readable Parquet file") as e:
        read_table(path, on_error="skip")
    assert e.value.path == str(path)


def test_deeply_nested_json_is_an_input_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n" + json.dumps(ROWS[0]) + "\n")
    res = read_table(path, on_error="skip")
    assert [a.id for a in res.articles] == ["a1"] and res.skipped[0].where == f"{path}:1"
