"""``stance-build``: build a labelled, split sentence dataset from a corpus (Hydra-configured)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from stance.cli._hydra import CONFIG_PATH
from stance.cli.common import console, exit_on_user_error, print_build_summary
from stance.data.build import write_dataset
from stance.data.from_config import build_from_config, scheme_from_config


def build(cfg: DictConfig) -> Path:
    """Build and write the dataset described by ``cfg``; return the dataset directory."""
    result = build_from_config(cfg.data, scheme=scheme_from_config(cfg.get("scheme")))
    out = write_dataset(
        result, cfg.output_dir, extra={"config": OmegaConf.to_container(cfg.data, resolve=True)}
    )
    print_build_summary(result)
    console.print(f"dataset written to [bold]{out}[/bold] (datasets.load_from_disk('{out}/hf'))")
    return out


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="build")
def _main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        build(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    sys.exit(main())
