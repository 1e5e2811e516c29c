"""A pool for the gateway's app when a test must never reach the database."""

from __future__ import annotations

from typing import NoReturn


class UntouchablePool:
    """A pool (`shared.db.ConnectionPool`) that fails the test if a request gets as far as
    the database."""

    def acquire(self) -> NoReturn:
        raise AssertionError("the request reached the database")
