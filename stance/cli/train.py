"""``stance-train``: one training run per Hydra job (multirun for seeds/models/sweeps)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from stance.cli._hydra import CONFIG_PATH
from stance.cli.common import exit_on_user_error


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def _main(cfg: DictConfig) -> float:
    from stance.training import train

    with exit_on_user_error():
        return train(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":  # python -m stance.cli.train (torchrun -m / accelerate launch -m)
    main()
