"""`python -m services.ledger`: the book of record."""

from __future__ import annotations

import uvloop

from services.ledger.app import MIGRATIONS, NAME, build
from services.ledger.settings import LedgerSettings
from shared.service import main

if __name__ == "__main__":
    main(NAME, LedgerSettings(), MIGRATIONS, build, loop_factory=uvloop.new_event_loop)
