"""A built wheel carries the config tree and the bundled sample: installed in a fresh
virtual environment, ``stance-build`` and ``stance-train model=tfidf`` work from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_from_any_directory(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True)
    (wheel,) = dist.glob("stance-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # dependencies from this environment (a .pth line adds its site-packages, but not its
    # editable install of stance, whose finder is registered by a .pth file that is not read)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    where = subprocess.run([str(py), "-c", "import stance, stance.resources as r; print(stance.__file__); "
                            "print(r.config_dir()); print(r.sample_dir())"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(str(site) in p for p in where), where  # the installed copy, not the checkout
    bin_dir = env_dir / "bin"
    build = subprocess.run([str(bin_dir / "stance-build"), "hydra.run.dir=b"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    assert (work / "b" / "dataset" / "build_report.json").is_file()
    trained = subprocess.run([str(bin_dir / "stance-train"), "model=tfidf", "trainer.n_boot=20", "hydra.run.dir=t"],
                             cwd=work, env=env, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert (work / "t" / "model" / "manifest.json").is_file() and (work / "t" / "metrics.json").is_file()
