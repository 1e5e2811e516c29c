"""How `cryptoorch replay ledger` and `cryptoorch ledger check` exit when they cannot check.

Exit codes scripts can trust: 0 = checked and fine, 1 = a difference or a broken
invariant, 2 = could not check (no running system, broker or database unreachable,
bad option). `run_check` turns every "could not check" into exit 2 with the reason on
stderr, so a script never reads an unreachable database as sound books.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from cryptoorch import runtime_info

T = TypeVar("T")
CANNOT_CHECK = 2


class CannotCheck(Exception):
    """Something the check needs could not be read."""


def run_check(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; anything that stops the check from being made exits 2."""
    try:
        return asyncio.run(work)
    except (runtime_info.NotRunning, CannotCheck) as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        raise _fail(f"bad ledger settings in the environment: {exc}") from None
    except KafkaError as exc:
        raise _fail(f"cannot read the broker: {exc}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _fail(f"cannot read the database: {exc}") from None


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(CANNOT_CHECK)
