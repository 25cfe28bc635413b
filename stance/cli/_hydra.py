"""Shared Hydra plumbing: config location and OmegaConf resolvers."""

from __future__ import annotations

from omegaconf import OmegaConf

from stance.resources import config_dir, sample_dir

CONFIG_PATH = str(config_dir())


def register_resolvers() -> None:
    """``${stance_sample:}`` -> the bundled sample folder; ``${stance_encoder:}`` -> packaged MiniLM."""
    if not OmegaConf.has_resolver("stance_sample"):
        OmegaConf.register_new_resolver("stance_sample", lambda: str(sample_dir()))
    if not OmegaConf.has_resolver("stance_encoder"):
        from stance.resources import default_encoder

        OmegaConf.register_new_resolver("stance_encoder", default_encoder)


register_resolvers()
