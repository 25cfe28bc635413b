"""Shared Hydra plumbing: config location and OmegaConf resolvers."""

from __future__ import annotations

from omegaconf import OmegaConf

from stance.resources import config_dir, sample_dir

CONFIG_PATH = str(config_dir())


def run_stamp(fmt: str = "%Y-%m-%d_%H-%M-%S") -> str:
    """The run directory's stamp: the time, or, in a multi-process launch by ``torchrun`` or
    ``accelerate launch``, the launch's rendezvous id, which every process shares (the processes
    start at slightly different times, so a time stamp could give each its own folder)."""
    import os
    import time

    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    if run_id and run_id != "none" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"dist-{run_id[:12]}"
    return time.strftime(fmt)


def register_resolvers() -> None:
    """``${stance_sample:}`` -> the bundled sample folder; ``${stance_encoder:}`` -> packaged
    MiniLM; ``${stance_stamp:FMT}`` -> :func:`run_stamp`."""
    if not OmegaConf.has_resolver("stance_stamp"):
        OmegaConf.register_new_resolver("stance_stamp", run_stamp)
    if not OmegaConf.has_resolver("stance_sample"):
        OmegaConf.register_new_resolver("stance_sample", lambda: str(sample_dir()))
    if not OmegaConf.has_resolver("stance_encoder"):
        from stance.resources import default_encoder

        OmegaConf.register_new_resolver("stance_encoder", default_encoder)


register_resolvers()
