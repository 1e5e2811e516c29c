"""Fixtures of several integration test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cli_env(service_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment of a `cryptoorch` command run by the test (see `tests.support.cli`):
    the test's broker, databases and a data folder of its own."""
    return {**service_env, "CRYPTOORCH_DATA_DIR": str(tmp_path / "data")}
