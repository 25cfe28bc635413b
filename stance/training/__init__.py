"""Training runs: ``train(cfg)`` fits, evaluates and saves one classifier into a run directory."""

from stance.training.run import TrainerSettings, train

__all__ = ["TrainerSettings", "train"]
