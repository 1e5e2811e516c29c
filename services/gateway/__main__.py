"""`python -m services.gateway`: the HTTP API, its read models and its outbox relay."""

from __future__ import annotations

from pathlib import Path

from services.gateway.app import build
from services.gateway.settings import GatewaySettings
from shared.service import main

if __name__ == "__main__":
    settings = GatewaySettings()
    settings.check_secrets()
    main("gateway", settings, Path(__file__).parent / "migrations", build)
