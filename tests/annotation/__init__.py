"""Tests of weak supervision and the annotation loop (stance.annotation)."""
