"""Shared fixtures; ``--run-slow`` enables tests marked ``slow``."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run tests marked slow")


SLOW_FIXTURES = frozenset({
    "sample_build",          # tests/data/test_cli_build.py: builds the whole bundled sample
    "run_dir",               # tests/reporting/test_report.py: trains a run directory
    "proto_lf",              # tests/annotation/test_lfs.py: loads MiniLM
    "run_cv",                # tests/training/test_cv.py: grouped CV runs
    "runs",                  # tests/training/test_schemes_end_to_end.py: one run per scheme
    "tiny_run",              # tests/training/test_hf_stack.py: a tiny transformer run
    "fitted",                # tests/models/test_transformer.py: a tiny transformer fit
    "tiny_transformer_dir",  # tests/scoring/test_fast.py: a tiny transformer fit and save
})
"""Fixtures that take seconds to set up: every test using one is slow, so that the cost of a
module-scoped fixture does not land on whichever of its tests happens to run first."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
