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


def optuna_storage(db: str | None) -> str | None:
    """The Optuna sweeper's ``storage`` for ``optuna_db=DB``: None (an in-memory study) when DB
    is null; a database URL (``postgresql://...``, ``sqlite:///...``) as given; else a path of
    an SQLite file, made absolute and its folder created (SQLite will not create the folder,
    and the sweeper opens the study before any run directory exists)."""
    from pathlib import Path

    if not _db_given(db):
        return None
    if "://" in str(db):
        return str(db)
    path = Path(str(db)).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def optuna_sampler_seed(seed: int, db: str | None) -> int | None:
    """The Optuna sampler's seed: ``seed`` for an in-memory study; None (unseeded) for a study
    kept in ``optuna_db``, which a later or a concurrent sweep continues: a seeded sampler
    would draw that sweep's trials again (the first ones are random draws from the seed)."""
    return None if _db_given(db) else int(seed)


def _db_given(db: str | None) -> bool:
    return db is not None and bool(str(db).strip())


def register_resolvers() -> None:
    """``${stance_sample:}`` -> the bundled sample folder; ``${stance_encoder:}`` -> packaged
    MiniLM; ``${stance_stamp:FMT}`` -> :func:`run_stamp`; ``${stance_optuna_storage:DB}`` ->
    :func:`optuna_storage`; ``${stance_optuna_seed:SEED,DB}`` -> :func:`optuna_sampler_seed`."""
    if not OmegaConf.has_resolver("stance_optuna_storage"):
        OmegaConf.register_new_resolver("stance_optuna_storage", optuna_storage)
    if not OmegaConf.has_resolver("stance_optuna_seed"):
        OmegaConf.register_new_resolver("stance_optuna_seed", optuna_sampler_seed)
    if not OmegaConf.has_resolver("stance_stamp"):
        OmegaConf.register_new_resolver("stance_stamp", run_stamp)
    if not OmegaConf.has_resolver("stance_sample"):
        OmegaConf.register_new_resolver("stance_sample", lambda: str(sample_dir()))
    if not OmegaConf.has_resolver("stance_encoder"):
        from stance.resources import default_encoder

        OmegaConf.register_new_resolver("stance_encoder", default_encoder)


register_resolvers()
