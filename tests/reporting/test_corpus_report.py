"""The corpus report (stance-report --scores) and two models on one corpus (stance-compare --scores).

The corpus is generated (tests/reporting/corpus_data.py: 14 fictional outlets, dated articles,
labels fixed by the generator); the expected figures are recomputed here by hand from the
generator's spec, not by the package's statistics.
"""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stance.cli.compare import main as compare_main
from stance.cli.report import main as report_main
from stance.errors import ConfigError, InputError
from stance.reporting.corpus import compare_outputs, write_corpus_report
from stance.resources import bundled_scheme
from tests.reporting.corpus_data import START, corpus_spec, write_output
from tests.schemes import PAK

PI, PK, NE = PAK.label_list
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "scripts" / "screenshot_report.py"
KW = {"n_boot": 60, "min_sentences": 10, "min_articles": 3}


class _Tables(html.parser.HTMLParser):
    """Section ids and the text of every table cell, per table, from report.html."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and self._cell is not None:
            self.links.append(a.get("href", ""))
        elif tag == "img":
            self.imgs.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Tables:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _row(tables: _Tables, header: str, first: str, col: int = 0) -> list[str]:
    """The row whose cell ``col`` is ``first`` in the first table with a header cell ``header``."""
    for t in tables.tables:
        if t and header in t[0]:
            for r in t[1:]:
                if r[col] == first:
                    return dict(zip(t[0], r, strict=True))  # type: ignore[return-value]
    raise AssertionError(f"no row {first!r} in a table with header {header!r}")


def _f(x: float) -> str:
    return f"{x:+.3f}"


def _by_hand(spec: list[dict], source: str) -> dict:
    """Per-source figures recomputed from the generator's spec with plain arithmetic."""
    arts = [a for a in spec if a["source"] == source]
    sents = [s for a in arts for s in a["sentences"]]
    n = len(sents)
    pi = sum(s["label"] == PI for s in sents)
    pk = sum(s["label"] == PK for s in sents)
    own = [s for s in sents if not s["attributed"]]
    quoted = [s for s in sents if s["attributed"]]

    def slant(xs):
        return (sum(s["label"] == PI for s in xs) - sum(s["label"] == PK for s in xs)) / len(xs)

    week1 = [a for a in arts if (START.toordinal() <= __import__("datetime").date.fromisoformat(a["date"]).toordinal()
                                 < START.toordinal() + 7)]
    w1 = [s for a in week1 for s in a["sentences"]]
    top_pi = max((s for s in sents if s["label"] == PI), key=lambda s: s["confidence"])
    return {
        "n": n, "articles": len(arts), "pi": pi, "pk": pk, "slant": (pi - pk) / n,
        # symmetric confusion (0.8 right, 0.1 each wrong label): corrected share = (q - 0.1) / 0.7
        "corrected": ((pi / n - 0.1) - (pk / n - 0.1)) / 0.7,
        "editorial": slant(own), "quoted": slant(quoted), "n_quoted": len(quoted),
        "kabul_voices": sum(s["speaker_side"] == "kabul" for s in quoted) / len(quoted),
        "week1_slant": slant(w1), "week1_articles": len(week1),
        "top_pi_text": top_pi["text"], "top_pi_conf": top_pi["confidence"],
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    spec = corpus_spec(n_sources=14, labels=PAK.label_list)
    a = write_output(root / "a.jsonl", PAK, spec)
    # model B: labels every fourth sentence neutral, and has not scored the last three articles
    b = write_output(root / "b.parquet", PAK, spec[:-3], kind="transformer", weights="w2",
                     relabel=lambda aid, k, lab: NE if k % 4 == 0 else lab)
    return {"spec": spec, "a": a, "b": b, "root": root}


@pytest.fixture(scope="module")
def report(corpus):
    paths = write_corpus_report([corpus["a"]], corpus["root"] / "report", **KW)
    return {**paths, "tables": _parse(paths["html"])}


def test_report_sections_and_numbers_match_hand_computed_values(corpus, report):
    t = report["tables"]
    assert t.sections == ["corpus", "model", "sources", "voices", "time", "evidence"]
    assert len({a["source"] for a in corpus["spec"]}) >= 12
    supported_slants = {}
    for src in {a["source"] for a in corpus["spec"]}:
        h = _by_hand(corpus["spec"], src)
        if h["n"] >= 10 and h["articles"] >= 3:
            supported_slants[src] = h["slant"]
    for source in ("Alpha Herald", "Beta Courier"):
        h = _by_hand(corpus["spec"], source)
        row = _row(t, "corrected slant [95% CI]", source, col=1)
        assert row["sentences"] == str(h["n"]) and row["articles"] == str(h["articles"])
        assert row[f"{PI} / {PK} sentences"] == f"{h['pi']} / {h['pk']}"
        assert row["slant [95% CI]"].startswith(_f(h["slant"]) + " [")
        assert row["corrected slant [95% CI]"].startswith(_f(h["corrected"]) + " [")
        assert row["rank"] == str(1 + sum(v > h["slant"] for v in supported_slants.values()))
        v = _row(t, "editorial slant [95% CI]", source)
        assert v["editorial slant [95% CI]"].startswith(_f(h["editorial"]))
        assert v["quoted slant [95% CI]"].startswith(_f(h["quoted"]))
        assert v["quoted sentences"] == str(h["n_quoted"])
        vb = _row(t, "kabul voices", source)
        assert vb["kabul voices"] == f"{h['kabul_voices']:.0%}"
        week = _row(t, START.isoformat(), source)[START.isoformat()]
        assert week.startswith(_f(h["week1_slant"])) and week.endswith(f"({h['week1_articles']} art.)")
    dates = sorted(a["date"] for a in corpus["spec"])
    assert _row(t, "", "dates")[""] == (f"{len(dates)} of {len(dates)} articles dated, {dates[0]} to {dates[-1]}; "
                                        "time section by week")
    # evidence: Alpha Herald's most confident pro-Islamabad sentence, linked to its article url
    h = _by_hand(corpus["spec"], "Alpha Herald")
    ev = [r for tb in t.tables if tb and tb[0] == ["label", "probability", "sentence", "article"] for r in tb[1:]]
    assert [PI, f"{h['top_pi_conf']:.2f}"] == [r for r in ev if h["top_pi_text"] in r[2]][0][:2]
    assert any(u.startswith("https://news.example/s00-") for u in t.links)
    # the page is self-contained and the Markdown links PNGs that exist
    html = report["html"].read_text(encoding="utf-8")
    assert "<script" not in html and all(s.startswith("data:image/png;base64,") for s in t.imgs) and t.imgs
    md = report["markdown"].read_text(encoding="utf-8")
    for name in ("corpus_slant.png", "corpus_editorial_quoted.png", "time_corpus.png", "time_sources.png"):
        assert f"]({name})" in md and (report["html"].parent / name).is_file()


def test_low_support_and_single_article_source_shown_apart_without_interval(corpus, report):
    t = report["tables"]
    lone = corpus["spec"][-1]["source"]
    below = [tb for tb in t.tables if tb and tb[0][0] == "source" and "corrected slant [95% CI]" in tb[0]]
    assert len(below) == 1 and [r[0] for r in below[0][1:]] == [lone]
    assert below[0][1][4].endswith("(1 article: no interval)")
    ranked = [tb for tb in t.tables if tb and tb[0][0] == "rank"][0]
    assert lone not in [r[1] for r in ranked[1:]]


def test_model_section_states_validation_calibration_and_caveat(report):
    html = report["html"].read_text(encoding="utf-8")
    assert "0.810 [0.760, 0.860]" in html and "logistic regression" in html
    assert "Caveat" in html and "prevalence" in html.lower()


def test_without_dates_the_time_section_says_so(tmp_path):
    spec = corpus_spec(n_sources=3, n_articles=3, dated=False, labels=PAK.label_list)
    out = write_output(tmp_path / "nodates.jsonl", PAK, spec)
    paths = write_corpus_report(out, **KW)
    assert paths["html"].parent == tmp_path / "nodates.jsonl.report"
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "No article in this output carries a readable date" in md
    assert f"{len(spec)} article(s) carry no date" in md and "time_sources.png" not in md


def test_scheme_without_poles_shows_label_distributions(tmp_path):
    frames = bundled_scheme("frames5")
    spec = corpus_spec(n_sources=4, n_articles=4, labels=frames.label_list)
    out = write_output(tmp_path / "f.jsonl", frames, spec, model_info={"kind": "tfidf", "metrics": {}})
    paths = write_corpus_report(out, **KW)
    t = _parse(paths["html"])
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "Per-source label distribution" in md and "no poles" in md and "slant [95% CI]" not in md
    lab = frames.label_list[0]
    arts = [a for a in spec if a["source"] == "Alpha Herald"]
    sents = [s for a in arts for s in a["sentences"]]
    share = sum(s["label"] == lab for s in sents) / len(sents)
    assert _row(t, f"{lab} [95% CI]", "Alpha Herald")[f"{lab} [95% CI]"].startswith(f"{share:.3f}")
    assert "No validation figures" in md and "not prevalence-corrected" in md


def test_two_outputs_compared_on_their_intersection(corpus):
    cmp = compare_outputs(corpus["a"], corpus["b"], **KW)
    spec = corpus["spec"]
    n_all = sum(len(a["sentences"]) for a in spec)
    n_left = sum(len(a["sentences"]) for a in spec[-3:])
    assert cmp["alignment"] == {"n_a": n_all, "n_b": n_all - n_left, "n_common": n_all - n_left,
                                "only_a": n_left, "only_b": 0, "text_mismatch": 0}
    common = [(a["source"], k, s["label"]) for a in spec[:-3] for k, s in enumerate(a["sentences"])]
    agree = sum(k % 4 != 0 or lab == NE for _, k, lab in common) / len(common)
    assert cmp["overall"]["agreement"] == pytest.approx(agree)
    from sklearn.metrics import cohen_kappa_score

    la = [lab for _, _, lab in common]
    lb = [NE if k % 4 == 0 else lab for _, k, lab in common]
    assert cmp["overall"]["kappa"] == pytest.approx(cohen_kappa_score(la, lb))
    ps = cmp["per_source"].set_index("source")
    rows = [(k, lab) for s, k, lab in common if s == "Alpha Herald"]
    sa = (sum(lab == PI for _, lab in rows) - sum(lab == PK for _, lab in rows)) / len(rows)
    sb = (sum(lab == PI and k % 4 != 0 for k, lab in rows) - sum(lab == PK and k % 4 != 0 for k, lab in rows)) / len(rows)
    assert ps.loc["Alpha Herald", "slant_a"] == pytest.approx(sa)
    assert ps.loc["Alpha Herald", "diff"] == pytest.approx(sa - sb)
    assert ps.loc["Alpha Herald", "diff_low"] <= sa - sb <= ps.loc["Alpha Herald", "diff_high"]
    assert (cmp["sample"]["label_a"] != cmp["sample"]["label_b"]).all() and len(cmp["sample"]) == 12
    top = cmp["most_disagreeing"]
    assert list(top["agreement"]) == sorted(top["agreement"]) and not top["low_support"].any()


@pytest.mark.slow
def test_report_with_two_outputs_has_the_comparison_section(corpus):
    paths = write_corpus_report([corpus["a"], corpus["b"]], corpus["root"] / "two", **KW)
    t = _parse(paths["html"])
    assert t.sections[-1] == "comparison"
    md = paths["markdown"].read_text(encoding="utf-8")
    n_left = sum(len(a["sentences"]) for a in corpus["spec"][-3:])
    assert f"left out: {n_left} only in A and 0 only in B" in md
    assert "compare_slant.png" in md and "Cohen's kappa" in md


def test_outputs_of_different_schemes_are_refused(corpus, tmp_path):
    two = bundled_scheme("two_way")
    spec = corpus_spec(n_sources=2, n_articles=3, labels=[*two.label_list, two.label_list[0]])
    other = write_output(tmp_path / "two.jsonl", two, spec)
    with pytest.raises(ConfigError, match="cannot be combined"):
        compare_outputs(corpus["a"], other)
    with pytest.raises(ConfigError, match="cannot be combined"):
        write_corpus_report([corpus["a"], other], tmp_path / "r", **KW)


def test_outputs_with_different_sentence_text_are_counted_not_compared(corpus, tmp_path):
    spec = json.loads(json.dumps(corpus["spec"]))
    spec[0]["sentences"][0]["text"] = "A differently cleaned first sentence."
    other = write_output(tmp_path / "c.jsonl", PAK, spec, weights="w3")
    al = compare_outputs(corpus["a"], other, **KW)["alignment"]
    assert al["text_mismatch"] == 1 and al["only_a"] == 1 and al["only_b"] == 1


def test_bad_score_outputs_are_clear_errors(corpus, tmp_path):
    with pytest.raises(InputError, match="no such score output"):
        write_corpus_report(tmp_path / "missing.jsonl")
    lone = tmp_path / "lone.jsonl"
    lone.write_text('{"article_id": "a"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="run.json"):
        write_corpus_report(lone)
    unfinished = tmp_path / "u.jsonl"
    shutil.copy(corpus["a"], unfinished)
    (tmp_path / "u.jsonl.parts").mkdir()
    with pytest.raises(InputError, match="has not finished"):
        write_corpus_report(unfinished)
    broken = tmp_path / "broken.jsonl"
    shutil.copy(corpus["a"], broken)
    shutil.copy(Path(f"{corpus['a']}.run.json"), Path(f"{broken}.run.json"))
    rows = [json.loads(x) for x in broken.read_text(encoding="utf-8").splitlines()]
    broken.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "label"}) + "\n" for r in rows))
    with pytest.raises(InputError, match="'label'"):
        write_corpus_report(broken)
    with pytest.raises(ConfigError, match="period"):
        write_corpus_report(corpus["a"], tmp_path / "p", period="fortnight")


@pytest.mark.slow
def test_cli_report_scores_and_compare_scores(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    assert report_main(["--scores", str(corpus["a"]), "--scores", str(corpus["b"]), "--output", str(out),
                        "--n-boot", "30", "--min-sentences", "10", "--period", "M"]) == 0
    assert (out / "report.html").is_file() and "Over time (by month)" in (out / "report.md").read_text()
    js = tmp_path / "cmp.json"
    compare_main(["--scores", str(corpus["a"]), str(corpus["b"]), "--n-boot", "30", "--min-sentences", "10",
                  "--json", str(js)])
    printed = capsys.readouterr().out
    assert "Cohen's kappa" in printed and "most disagreeing sources" in printed
    data = json.loads(js.read_text())
    assert data["alignment"]["only_a"] > 0 and len(data["per_source"]) == 13
    for argv in (["--scores", "a", "--scores", "b", "--scores", "c"], ["some_run", "--scores", "a"], []):
        with pytest.raises(SystemExit) as e:
            report_main(argv)
        assert e.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        report_main(["--scores", str(tmp_path / "nope.jsonl")])
    cap = capsys.readouterr()
    assert e.value.code != 0 and "nope.jsonl: no such score output" in cap.out + cap.err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_corpus_report_screenshots_with_many_long_named_sources(tmp_path):
    spec = corpus_spec(n_sources=42, n_articles=5, long_names=True, labels=PAK.label_list)
    out = write_output(tmp_path / "many.jsonl", PAK, spec)
    paths = write_corpus_report(out, **KW)
    for width in (1280, 390):
        png = tmp_path / f"shot-{width}.png"
        proc = subprocess.run([sys.executable, str(SCREENSHOT), str(paths["html"]), "--output", str(png),
                               "--width", str(width), "--height", "3000"],
                              capture_output=True, text=True, timeout=180, check=False)
        assert proc.returncode == 0, proc.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.slow  # a whole report of its own corpus: 1-2 s
def test_an_empty_week_is_said_and_left_blank(tmp_path):
    spec = corpus_spec(n_sources=3, n_articles=6, single_article_source=False, labels=PAK.label_list)
    spec = [a for a in spec if not a["date"].startswith(("2025-10-13", "2025-10-14", "2025-10-15", "2025-10-16",
                                                         "2025-10-17", "2025-10-18", "2025-10-19"))]
    out = write_output(tmp_path / "gap.jsonl", PAK, spec)
    md = write_corpus_report(out, **KW)["markdown"].read_text(encoding="utf-8")
    assert "1 week(s) between the first and the last date have no article" in md
    row = [ln for ln in md.splitlines() if ln.startswith("| Alpha Herald |") and "art.)" in ln][0]
    assert row.split(" | ")[2] == "–"  # the second week's column


@pytest.mark.slow  # a whole report of its own corpus: 1-2 s
def test_a_model_trained_on_the_synthetic_sample_gets_the_plain_caveat(tmp_path):
    spec = corpus_spec(n_sources=3, n_articles=3, labels=PAK.label_list)
    info = {"kind": "transformer", "data_name": "sample", "label_source": "gold", "temperature": 1.37,
            "validation_confusion_matrix": None, "metrics": {}}
    out = write_output(tmp_path / "s.jsonl", PAK, spec, kind="transformer", model_info=info)
    md = write_corpus_report(out, **KW)["markdown"].read_text(encoding="utf-8")
    assert "temperature-scaled on the validation split (T = 1.37)" in md
    assert "synthetic (the bundled sample)" in md and "demonstration" in md


@pytest.mark.slow  # a whole report of its own corpus: 1-2 s
def test_a_year_of_weeks_keeps_the_figure_and_leaves_out_the_wide_table(tmp_path):
    spec = corpus_spec(n_sources=2, n_articles=70, single_article_source=False, labels=PAK.label_list)
    out = write_output(tmp_path / "year.jsonl", PAK, spec)
    paths = write_corpus_report(out, **KW)
    md = paths["markdown"].read_text(encoding="utf-8")
    n_weeks = (max(a["date"] for a in spec) > "") and len({
        __import__("pandas").Period(a["date"], freq="W") for a in spec})
    assert n_weeks > 26 and "The per-source table is left out" in md and "time_sources.png" in md
    assert paths["time_sources"].is_file()
