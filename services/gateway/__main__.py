"""`python -m services.gateway`: the HTTP API, its read models and its outbox relay."""

from __future__ import annotations

from pathlib import Path

from services.gateway import NAME
from services.gateway.app import build, new_event_loop
from services.gateway.settings import GatewaySettings
from shared.service import main

if __name__ == "__main__":
    settings = GatewaySettings()
    settings.check_secrets()
    migrations = Path(__file__).parent / "migrations"
    main(NAME, settings, migrations, build, loop_factory=new_event_loop)
