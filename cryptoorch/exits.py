"""Exit codes scripts can trust, and the one way a command stops with a message.

0 = done (or checked and fine); 1 = checked and found wrong, or refused; 2 = could not
check or not done (no running system, database or broker unreachable, bad option). The
plain commands (`migrate`, `status`, `dlq`, `outbox`, `admin`) exit 1 when no system is
running, as they always did; the checks and `kill-switch` exit 2 when they could not do
their work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from cryptoorch.runtime_info import SERVICES, NotRunning

T = TypeVar("T")

FOUND_WRONG = 1
CANNOT_CHECK = 2
NOT_DONE = 2


class CannotCheck(RuntimeError):
    """Something a check needs could not be read: nothing can be said either way (exit 2)."""


def fail(message: str, code: int = FOUND_WRONG) -> typer.Exit:
    """Print `message` on stderr and return the exit to raise (`raise fail(...) from None`)."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def run_against_system(work: Coroutine[Any, Any, T], code: int = FOUND_WRONG) -> T:
    """Run `work`; no running system stops the command with the reason and `code`."""
    try:
        return asyncio.run(work)
    except NotRunning as exc:
        raise fail(str(exc), code) from None


def run_check(work: Coroutine[Any, Any, T]) -> T:
    """Run a check (`ledger check`, `replay ledger`); anything that stops it from being made
    exits 2 with the reason, so a script never reads an unreachable database as sound books."""
    try:
        return run_against_system(work, CANNOT_CHECK)
    except CannotCheck as exc:
        raise fail(str(exc), CANNOT_CHECK) from None
    except ValidationError as exc:
        raise fail(f"bad settings in the environment: {exc}", CANNOT_CHECK) from None
    except KafkaError as exc:
        raise fail(f"cannot read the broker: {exc}", CANNOT_CHECK) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise fail(f"cannot read the database: {exc}", CANNOT_CHECK) from None


def require_service(service: str) -> None:
    """A service name the operator typed must be one of the five (else exit 2, a bad option)."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", CANNOT_CHECK)
