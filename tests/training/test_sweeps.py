"""Parallel sweeps: the launcher configs (joblib, submitit) and parallel Optuna trials.

The runs train TF-IDF on the mini corpus (the training tests' smallest data) in a subprocess,
as ``stance-train`` runs: the jobs then run in joblib (loky) worker processes or in submitit
subprocesses, each writing its own run directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from stance.cli._hydra import optuna_sampler_seed, optuna_storage
from stance.resources import config_dir
from tests.training.conftest import FIXTURES, MINI_SPLIT

ROOT = Path(__file__).resolve().parents[2]
LAUNCHERS = sorted(p.stem for p in (config_dir() / "hydra" / "launcher").glob("*.yaml"))
MINI = [f"data.corpora.synthetic.path={FIXTURES / 'mini_articles.jsonl'}", *MINI_SPLIT, "trainer.n_boot=20"]


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def _train(cwd: Path, *overrides: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``stance-train OVERRIDES`` on the mini corpus, run from ``cwd``; fails the test on error."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "stance.cli.train", *overrides, *MINI], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _runs(sweep: Path) -> dict[int, Path]:
    return {int(p.name): p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()}


# --------------------------------------------------------------------------- configs


def test_the_package_ships_the_parallel_and_slurm_launchers() -> None:
    assert {"parallel", "slurm", "slurm_local"} <= set(LAUNCHERS)


@pytest.mark.parametrize("name", LAUNCHERS)
def test_launcher_config_composes_and_instantiates(name: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose(f"hydra/launcher={name}", "hydra.sweep.dir=/tmp/unused")
    assert cfg.hydra.runtime.choices["hydra/launcher"] == name
    launcher = instantiate(cfg.hydra.launcher)
    expected = {"parallel": "JoblibLauncher", "slurm": "SlurmLauncher", "slurm_local": "LocalLauncher"}
    assert type(launcher).__name__ == expected.get(name, type(launcher).__name__)


def test_parallel_launcher_runs_two_jobs_by_default_and_takes_n_jobs() -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    assert _compose("hydra/launcher=parallel").hydra.launcher.n_jobs == 2
    assert _compose("hydra/launcher=parallel", "hydra.launcher.n_jobs=5").hydra.launcher.n_jobs == 5


def test_slurm_launcher_takes_partition_gpus_and_timeout() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose("hydra/launcher=slurm", "hydra.sweep.dir=/scratch/sweep", "hydra.launcher.partition=gpu",
                   "hydra.launcher.gpus_per_node=1", "hydra.launcher.timeout_min=240",
                   "hydra.launcher.setup=[source .venv/bin/activate]")
    launcher = instantiate(cfg.hydra.launcher)
    params = launcher.params
    assert (params["partition"], params["gpus_per_node"], params["timeout_min"]) == ("gpu", 1, 240)
    assert params["setup"] == ["source .venv/bin/activate"]
    assert params["submitit_folder"] == "/scratch/sweep/.submitit/%j"  # logs beside the run dirs
    with pytest.raises(Exception, match="timeout_min"):  # the plugin's schema types the fields
        _compose("hydra/launcher=slurm", "hydra.launcher.timeout_min=soon")


def test_tfidf_optuna_runs_two_trials_at_a_time_with_the_joblib_launcher() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    cfg = _compose("hparams_search=tfidf_optuna")
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "parallel"
    assert cfg.hydra.sweeper.n_jobs == cfg.hydra.launcher.n_jobs == 2
    assert cfg.hydra.sweeper.storage is None and cfg.hydra.sweeper.sampler.seed == 0
    # another launcher on the command line wins over the sweep's default
    cfg = _compose("hparams_search=tfidf_optuna", "hydra/launcher=slurm")
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "slurm"


def test_optuna_db_gives_the_sweeper_a_storage_and_an_unseeded_sampler(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    db = tmp_path / "studies" / "tfidf.db"
    cfg = _compose("hparams_search=tfidf_optuna", f"optuna_db={db}", "seed=3")
    assert cfg.hydra.sweeper.storage == f"sqlite:///{db}"
    assert db.parent.is_dir()  # SQLite would not create it
    assert cfg.hydra.sweeper.sampler.seed is None


def test_optuna_storage_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert optuna_storage(None) is None and optuna_storage("") is None
    assert optuna_storage("postgresql://u@db/optuna") == "postgresql://u@db/optuna"
    assert optuna_storage("a/b/s.db") == f"sqlite:///{tmp_path / 'a' / 'b' / 's.db'}"
    assert (tmp_path / "a" / "b").is_dir()
    assert optuna_sampler_seed(7, None) == 7
    assert optuna_sampler_seed(7, "a/b/s.db") is None


# --------------------------------------------------------------------------- runs


@pytest.mark.slow
def test_joblib_multirun_writes_one_run_directory_per_job(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    proc = _train(tmp_path, "-m", "hydra/launcher=parallel", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    runs = _runs(sweep)
    assert sorted(runs) == [0, 1]
    seeds = {}
    for num, run in runs.items():
        resolved = yaml.safe_load((run / "config.yaml").read_text())
        metrics = json.loads((run / "metrics.json").read_text())
        assert resolved["run_dir"] == str(run)  # the worker wrote into its own job directory
        assert resolved["model"]["classifier"]["seed"] == resolved["seed"] == metrics["seed"]
        assert 0.0 <= metrics["validation"]["macro_f1"] <= 1.0
        assert (run / "model").is_dir() and (run / "run_info.json").is_file()
        seeds[num] = metrics["seed"]
    assert sorted(seeds.values()) == [0, 1]
    launched = yaml.safe_load((sweep / "multirun.yaml").read_text())["hydra"]["launcher"]["_target_"]
    assert launched.endswith("JoblibLauncher")


@pytest.mark.slow
def test_tfidf_optuna_sweep_of_8_trials_two_at_a_time_reports_its_best_trial(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    import optuna

    sweep, db = tmp_path / "sweep", tmp_path / "studies" / "tfidf.db"
    proc = _train(tmp_path, "hparams_search=tfidf_optuna", "hydra.sweeper.n_trials=8", f"hydra.sweep.dir={sweep}",
                  f"optuna_db={db}")
    log = proc.stdout + proc.stderr
    assert log.count("Joblib.Parallel(n_jobs=2") == 4  # four batches of two trials
    runs = _runs(sweep)
    assert sorted(runs) == list(range(8))
    scores = {num: json.loads((run / "metrics.json").read_text())["validation"]["macro_f1"]
              for num, run in runs.items()}
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(scores.values()))
    # the best parameters are those of a run that reached the best value
    best_runs = [num for num, s in scores.items() if s == pytest.approx(best["best_value"])]
    classifier = [yaml.safe_load((runs[n] / "config.yaml").read_text())["model"]["classifier"] for n in best_runs]
    assert any(all(c[k.removeprefix("model.classifier.")] == pytest.approx(v) for k, v in best["best_params"].items())
               for c in classifier)
    study = optuna.load_study(study_name="tfidf", storage=f"sqlite:///{db}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 8
    assert study.best_value == pytest.approx(best["best_value"])


@pytest.mark.slow
def test_submitit_local_launcher_runs_the_jobs(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    _train(tmp_path, "-m", "hydra/launcher=slurm_local", "model.classifier.C=1.0,8.0", f"hydra.sweep.dir={sweep}")
    runs = _runs(sweep)
    assert sorted(runs) == [0, 1]
    cs = sorted(yaml.safe_load((r / "config.yaml").read_text())["model"]["classifier"]["C"] for r in runs.values())
    assert cs == [1.0, 8.0]
    assert all((r / "metrics.json").is_file() for r in runs.values())
    assert any((sweep / ".submitit").iterdir())  # submitit's job folders (logs, pickles)
