"""``stance-audit`` (stance.cli.audit): inputs, splits, output formats and bad input, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stance.cli.audit import main
from stance.resources import REPO_ROOT
from tests.schemes import PAK

ISL, KABUL, NEUTRAL = "pro_islamabad", "pro_kabul", "neutral"


def sentences() -> pd.DataFrame:
    """Train: 'sovereignty' in half of pro_kabul's sentences only, 'border' in 2/3 of every
    label's, 'militants' in pro_islamabad's only. Validation: 'ceasefire' planted in
    pro_islamabad (must not show in a train-only audit)."""
    rows = []
    for lab in (ISL, KABUL, NEUTRAL):
        for i in range(30):
            text = f"Report {i} of the day"
            text += " near the border" if i % 3 else ""
            text += " defending sovereignty" if lab == KABUL and i % 2 == 0 else ""
            text += " against militants" if lab == ISL and i % 2 == 0 else ""
            rows.append({"text": text + ".", "label": lab, "split": "train"})
        for i in range(10):
            text = f"Update {i} from the region" + (" after the ceasefire" if lab == ISL else "")
            rows.append({"text": text + ".", "label": lab, "split": "validation"})
    return pd.DataFrame(rows)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    d = tmp_path / "dataset"
    d.mkdir()
    df = sentences()
    df["duplicate_of"] = None
    df.to_parquet(d / "sentences.parquet")
    (d / "build_report.json").write_text(json.dumps({"scheme": PAK.to_dict(), "labels": PAK.label_list}))
    return d


def run(capsys, *args) -> tuple[int, str]:
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        code = e.code or 0
    return code, capsys.readouterr().out


def md_rows(md: str, section: str) -> list[list[str]]:
    """The body rows of the first table after the heading that starts with ``section``."""
    part = md.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in part.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[1:]]


def test_dataset_folder_defaults_to_train_and_flags_the_planted_terms(capsys, dataset) -> None:
    code, md = run(capsys, dataset, "--min-count", "3", "--max-ngram", "1", "--top", "5")
    assert code == 0
    assert "- split: train (the default" in md
    assert f"- labelled sentences: 90 ({ISL} 30, {KABUL} 30, {NEUTRAL} 30)" in md
    top = md_rows(md, "Top")
    assert len(top) == 5
    first = {(r[1], r[2]) for r in top[:4]}  # sovereignty/defending (pro_kabul), militants/against (pro_islamabad)
    assert first == {("sovereignty", KABUL), ("defending", KABUL), ("militants", ISL), ("against", ISL)}
    sov = next(r for r in top if r[1] == "sovereignty")
    assert sov[5:8] == ["0", "15", "0"] and sov[9] == "yes"  # counts in scheme order, flagged
    assert "ceasefire" not in md  # validation only
    assert "border" not in [r[1] for r in md_rows(md, "Top")]
    poles = {r[1]: r[2] for r in md_rows(md, "Pole asymmetry")}
    assert poles["sovereignty"] == KABUL and poles["militants"] == ISL and "border" not in poles


def test_border_is_not_flagged_in_the_full_table(capsys, dataset, tmp_path) -> None:
    out = tmp_path / "audit.csv"
    assert run(capsys, dataset, "--min-count", "3", "--max-ngram", "1", "--top", "0", "--output", out)[0] == 0
    table = pd.read_csv(out)
    border = table[table["term"] == "border"]
    assert len(border) == 3 and not border["flagged"].any()
    assert set(table.loc[table["flagged"], "term"]) == {"sovereignty", "defending", "militants", "against"}
    assert (out.parent / "audit.poles.csv").is_file()


def test_split_option_and_json_output(capsys, dataset, tmp_path) -> None:
    out = tmp_path / "val.json"
    code, text = run(capsys, dataset, "--split", "validation", "--min-count", "3", "--max-ngram", "1", "--term", "Sovereignty",
                     "--output", out)
    assert code == 0 and "wrote" in text
    data = json.loads(out.read_text())
    assert data["split"] == "validation" and data["n_sentences"] == {ISL: 10, KABUL: 10, NEUTRAL: 10}
    assert data["scheme"] == {"name": "pak_afghan", "labels": PAK.label_list, "poles": list(PAK.poles)}
    assert (data["terms"][0]["term"], data["terms"][0]["label"]) in {("ceasefire", ISL), ("after", ISL)}
    assert {r["term"] for r in data["requested_terms"]} == {"sovereignty"}
    code, md = run(capsys, dataset, "--min-count", "3", "--max-ngram", "1", "--term", "Border", "--term", "sovereignty")
    asked = md_rows(md, "Requested terms")
    assert [r[0] for r in asked] == ["border", "sovereignty"]  # the order asked for, not by z
    assert asked[1][1:4] == ["0", "15", "0"]
    assert all(r[f"n_{lab}"] == 0 for r in data["requested_terms"] for lab in PAK.label_list)
    both = tmp_path / "both.json"
    assert run(capsys, dataset, "--split", "train,validation", "--min-count", "3", "--max-ngram", "1", "--output", both)[0] == 0
    both_data = json.loads(both.read_text())
    assert both_data["split"] == "train, validation" and sum(both_data["n_sentences"].values()) == 120


def test_sentence_table_with_and_without_scheme(capsys, tmp_path) -> None:
    csv = tmp_path / "gold.csv"
    sentences().drop(columns="split").to_csv(csv, index=False)
    code, md = run(capsys, csv, "--scheme", "pak_afghan", "--min-count", "3", "--max-ngram", "1", "--output", tmp_path / "a.md")
    assert code == 0
    md = (tmp_path / "a.md").read_text()
    assert "- split: all sentences (the data has no split column)" in md and "## Pole asymmetry" in md
    code, md = run(capsys, csv, "--min-count", "3", "--max-ngram", "1")
    assert code == 0
    assert "no poles" in md and "## Pole asymmetry" not in md
    assert f"| {ISL} | {KABUL} | {NEUTRAL} |" not in md  # inferred labels are sorted
    assert f"| {NEUTRAL} | {ISL} | {KABUL} |" in md


def test_bad_input_exits_2_with_the_place(capsys, dataset, tmp_path) -> None:
    csv = tmp_path / "gold.csv"
    df = sentences().drop(columns="split")
    df.loc[4, "label"] = "pro_delhi"
    df.to_csv(csv, index=False)
    code, text = run(capsys, csv, "--scheme", "pak_afghan")
    assert code == 2 and f"{csv}:6" in text and "pro_delhi" in text  # header is line 1, row 4 is line 6
    code, text = run(capsys, dataset, "--output", tmp_path / "audit.txt")
    assert code == 2 and "unsupported output format" in text
    code, text = run(capsys, dataset, "--split", "dev-set")
    assert code == 2 and "unknown split" in text
    code, text = run(capsys, dataset, "--split", "test")
    assert code == 2 and "no labelled sentences in split test" in text and "train, validation" in text
    code, text = run(capsys, tmp_path / "missing.csv")
    assert code == 2 and "does not exist" in text
    code, text = run(capsys, dataset, "--scheme", "two_way")
    assert code == 2 and "cannot be combined" in text
    with pytest.raises(SystemExit) as e:
        main([str(dataset), "--top", "-1"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main([str(dataset), "--max-ngram", "0"])
    assert e.value.code == 2


def test_console_script_is_declared() -> None:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert 'stance-audit = "stance.cli.audit:main"' in scripts.splitlines()
