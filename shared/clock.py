"""The one wall clock: aware UTC datetimes.

Code that decides takes a `Clock` (tests pass their own); composition roots pass `utc_now`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
