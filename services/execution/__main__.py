"""`python -m services.execution`: the execution service (paper venue, ccxt exchanges)."""

from __future__ import annotations

from pathlib import Path

import uvloop

from services.execution.app import build
from services.execution.settings import ExecutionSettings
from shared.service import main

if __name__ == "__main__":
    migrations = Path(__file__).parent / "migrations"
    main("execution", ExecutionSettings(), migrations, build, loop_factory=uvloop.new_event_loop)
