"""`python -m services.safety`: every pre-trade and pre-withdrawal check."""

from __future__ import annotations

from pathlib import Path

from services.safety.app import build
from services.safety.settings import SafetySettings
from shared.service import main

if __name__ == "__main__":
    main("safety", SafetySettings(), Path(__file__).parent / "migrations", build)
