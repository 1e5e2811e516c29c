"""`python -m services.audit`: the hash-chained, append-only trail of every message."""

from __future__ import annotations

from pathlib import Path

import uvloop

from services.audit.app import build
from services.audit.settings import AuditSettings
from shared.service import main

if __name__ == "__main__":
    migrations = Path(__file__).parent / "migrations"
    main("audit", AuditSettings(), migrations, build, loop_factory=uvloop.new_event_loop)
