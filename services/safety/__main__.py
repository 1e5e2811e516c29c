"""`python -m services.safety`: every pre-trade and pre-withdrawal check."""

from __future__ import annotations

from pathlib import Path

import uvloop

from services.safety.app import build
from services.safety.settings import SafetySettings
from shared.service import main

if __name__ == "__main__":
    migrations = Path(__file__).parent / "migrations"
    main("safety", SafetySettings(), migrations, build, loop_factory=uvloop.new_event_loop)
