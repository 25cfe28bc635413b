"""Tests of the visual report: self-contained HTML, Markdown links, errors, CLI, screenshot."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stance.errors import StanceError
from stance.evaluation.evaluate import metrics_of, per_source_table
from stance.reporting import ReportInputError, plots, write_report
from tests.schemes import LABELS, PAK

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "scripts" / "screenshot_report.py"
SECTIONS = ("Run summary", "Headline metrics", "Per-class results", "Confusion matrices",
            "Calibration", "Per-source bias")
EVIL = "<b>Evil & \"Co\"</b>"

# (source, articles, sentences per article, lean): lean shifts labels towards one side
DEFAULT_SOURCES: tuple[tuple[str, int, int, float], ...] = (
    ("Dawn", 5, 9, 0.35),
    ("TOLOnews", 4, 10, -0.4),
    ("Reuters", 6, 6, 0.0),
    ("Ariana News", 2, 6, -0.2),  # low support
    (EVIL, 1, 8, 0.1),  # low support, single article, needs escaping
)


def _sentences(rng: np.random.Generator, sources: Sequence[tuple[str, int, int, float]]) -> pd.DataFrame:
    rows = []
    for s_i, (source, n_art, per_art, lean) in enumerate(sources):
        p = np.array([0.3 + lean / 2, 0.3 - lean / 2, 0.4])
        p = np.clip(p, 0.02, None)
        p /= p.sum()
        for a in range(n_art):
            for k in range(per_art):
                label = LABELS[rng.choice(3, p=p)]
                attributed = bool(rng.random() < 0.4)
                side = rng.choice(["islamabad", "kabul", "third_party", None]) if attributed else None
                rows.append({
                    "sentence_id": f"s{s_i}-{a}-{k}",
                    "article_id": f"src{s_i}-art{a}",
                    "source": source,
                    "text": f"sentence {k} of article {a}",
                    "attributed": attributed,
                    "speaker_side": side,
                    "label": label,
                })
    return pd.DataFrame(rows)


def _predict(df: pd.DataFrame, rng: np.random.Generator, accuracy: float) -> pd.DataFrame:
    out = df.copy()
    gold = out["label"].map(LABELS.index).to_numpy()
    wrong = rng.random(len(out)) > accuracy
    pred = np.where(wrong, (gold + rng.integers(1, 3, len(out))) % 3, gold)
    proba = rng.dirichlet(np.ones(3), len(out)) * 0.5
    proba[np.arange(len(out)), pred] += 0.5
    out["pred"] = [LABELS[i] for i in pred]
    for j, lab in enumerate(LABELS):
        out[f"proba_{lab}"] = proba[:, j].astype("float32")
    return out


def make_run_dir(
    path: Path,
    *,
    model: str = "tfidf",
    seed: int = 0,
    accuracy: float = 0.8,
    sources: Sequence[tuple[str, int, int, float]] = DEFAULT_SOURCES,
    n_boot: int = 30,
) -> Path:
    """A stance-train-like run directory written by hand (same file formats, no training).

    The sentences depend only on ``sources`` (fixed data seed), so runs built with different
    ``seed``/``model`` share their test set and can be compared.
    """
    path.mkdir(parents=True, exist_ok=True)
    data_rng = np.random.default_rng(12345)
    pred_rng = np.random.default_rng(seed + 100 * len(model))
    metrics: dict = {"model": model, "seed": seed, "train_seconds": 1.5, "n_train": 400}
    for split, srcs in (("validation", sources[:3]), ("test", sources)):
        pred = _predict(_sentences(data_rng, srcs), pred_rng, accuracy)
        m = metrics_of(pred, LABELS, n_boot=n_boot, seed=seed)
        m["per_source"] = per_source_table(pred, PAK).to_dict(orient="records")
        metrics[split] = m
        pred.to_parquet(path / f"predictions_{split}.parquet", index=False)
    metrics["model_size_bytes"] = 123_456
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (path / "run_info.json").write_text(json.dumps({
        "package_version": "0.1.0", "labels": list(LABELS), "seed": seed,
        "data_fingerprint": "ab" * 32, "model": model, "model_dir": str(path / "model"),
    }))
    config = {
        "model": {"name": model, "classifier": {"_target_": f"fake.{model}", "C": 1.0, "seed": seed}},
        "trainer": {"labels": "gold", "n_boot": n_boot, "min_sentences": 30, "min_articles": 3},
        "seed": seed,
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report([run_dir], output=tmp_path_factory.mktemp("out") / "report", n_boot=30)


@pytest.mark.slow
def test_report_files_exist(report: dict[str, Path]) -> None:
    assert report["html"].name == "report.html" and report["html"].is_file()
    assert report["markdown"].name == "report.md" and report["markdown"].is_file()
    pngs = {k: v for k, v in report.items() if k not in ("html", "markdown")}
    assert {"confusion_validation", "confusion_test", "reliability_validation", "reliability_test",
            "slant_test", "editorial_quoted_test", "distribution_test"} <= set(pngs)
    for p in pngs.values():
        assert p.suffix == ".png" and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert p.parent == report["html"].parent


@pytest.mark.slow
def test_html_is_self_contained(report: dict[str, Path]) -> None:
    text = report["html"].read_text(encoding="utf-8")
    assert 'src="http' not in text and "src='http" not in text
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "url(" not in text  # no external CSS assets
    srcs = re.findall(r'<img [^>]*src="([^"]*)"', text)
    assert len(srcs) >= 7
    assert all(s.startswith("data:image/png;base64,") for s in srcs)


def test_html_has_sections_and_model(report: dict[str, Path]) -> None:
    text = report["html"].read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert f">{heading}" in text, heading
    assert "tfidf" in text
    assert "low support" in text
    assert "95% CI" in text
    assert "Comparison of runs" not in text  # one run: no comparison


def test_html_escapes_text(report: dict[str, Path]) -> None:
    text = report["html"].read_text(encoding="utf-8")
    assert "<b>Evil" not in text
    assert "&lt;b&gt;Evil &amp; &quot;Co&quot;&lt;/b&gt;" in text


def test_markdown_links_existing_pngs(report: dict[str, Path]) -> None:
    md = report["markdown"]
    text = md.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 7
    for link in links:
        assert not link.startswith(("http:", "https:", "/"))
        assert (md.parent / link).is_file(), link
    for heading in SECTIONS:
        assert f"## {heading}" in text


def test_missing_metrics_raises_clear_error(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path / "run")
    (run / "metrics.json").unlink()
    with pytest.raises(ReportInputError) as e:
        write_report([run], output=tmp_path / "out", n_boot=10)
    assert isinstance(e.value, StanceError)
    assert str(run) in str(e.value) and "metrics.json" in str(e.value)


def test_missing_predictions_raises_clear_error(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path / "run")
    (run / "predictions_test.parquet").unlink()
    with pytest.raises(ReportInputError, match="predictions_test.parquet") as e:
        write_report([run], output=tmp_path / "out", n_boot=10)
    assert str(run) in str(e.value)


def test_not_a_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="does not exist"):
        write_report([tmp_path / "nope"], n_boot=10)


@pytest.mark.slow
def test_several_runs_add_comparison(tmp_path: Path) -> None:
    a = make_run_dir(tmp_path / "a", model="tfidf", seed=0, accuracy=0.8)
    b = make_run_dir(tmp_path / "b", model="minilm", seed=0, accuracy=0.9)
    paths = write_report([a, b], output=tmp_path / "out", n_boot=20)
    text = paths["html"].read_text(encoding="utf-8")
    assert "tfidf" in text and "minilm" in text
    assert "Comparison of runs" in text
    assert "McNemar" in text


@pytest.mark.slow
def test_cli_prints_paths_and_defaults_to_run_report_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stance.cli.report import main

    run = make_run_dir(tmp_path / "run")
    assert main([str(run), "--n-boot", "10"]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "report.md" in out
    assert (run / "report" / "report.html").is_file()
    assert (run / "report" / "slant_test.png").is_file()


def test_cli_user_error_has_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stance.cli.report import main

    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "empty"), "--n-boot", "10"])
    assert e.value.code == 2
    out = capsys.readouterr()
    assert "metrics.json" in out.out and "Traceback" not in out.out + out.err


@pytest.mark.slow
def test_plots_handle_empty_bins_and_missing_gold(tmp_path: Path) -> None:
    rel = {"bin_lower": [0.0, 0.5], "bin_upper": [0.5, 1.0], "confidence": [None, 0.8],
           "accuracy": [None, 0.7], "count": [0, 10]}
    assert plots.plot_reliability(rel, tmp_path / "r.png", ece=0.1).is_file()
    table = pd.DataFrame([{
        "source": "x", "n_sentences": 3, "n_articles": 1, "low_support": True,
        "slant": 0.2, "slant_low": 0.2, "slant_high": 0.2,
        "editorial_slant": float("nan"), "editorial_slant_low": float("nan"),
        "editorial_slant_high": float("nan"), "quoted_slant": 0.5, "quoted_slant_low": 0.1,
        "quoted_slant_high": 0.9, "share_pro_islamabad": 0.5, "share_pro_kabul": 0.2,
        "share_neutral": 0.3,
    }])
    assert plots.plot_source_slant(table, tmp_path / "s.png", PAK.poles).is_file()
    assert plots.plot_editorial_vs_quoted(table, tmp_path / "e.png", PAK.poles).is_file()
    assert plots.plot_stance_distribution({"predictions": table}, tmp_path / "d.png", PAK).is_file()
    with pytest.raises(ValueError, match="3x3"):
        plots.plot_confusion_matrix([[1, 2], [3, 4]], LABELS, tmp_path / "c.png")


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (apt-get install -y chromium)")
@pytest.mark.slow
def test_screenshot_script(report: dict[str, Path], tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, str(SCREENSHOT), str(report["html"]), "--output", str(png)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_screenshot_script_reports_missing_chromium(report: dict[str, Path], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCREENSHOT), str(report["html"]), "--chromium",
         "definitely-not-a-browser", "--output", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": str(tmp_path)},  # nothing on PATH either
    )
    assert proc.returncode == 2
    assert "Chromium not found" in proc.stderr
