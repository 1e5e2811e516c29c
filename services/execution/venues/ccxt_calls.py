"""One ccxt call at a time, and what its failure means.

A "call" is one adapter operation (it may make several requests: ccxt loads markets first).
Calls on one client are serialised by a lock, so the request log and ccxt's last response
belong to the call that failed. The verdict comes from what was sent and what came back
(`outcomes.classify`: HTTP status first, then the venue's code), never from the exception class
alone. After a 429/418 the client stays silent for the `Retry-After` (ccxt would not).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from services.execution.domain.errors import VenueNotReached, VenueOutcomeUnknown, VenueRejected
from services.execution.domain.outcomes import VenueReply, Verdict, classify, describe
from services.execution.venues.ccxt_client import RequestLog, ccxt_async

T = TypeVar("T")
RATE_LIMIT_PAUSE_SECONDS = 1.0
"""How long to stay silent after a 429/418 that names no Retry-After."""


class CallFailed(Exception):
    def __init__(self, verdict: Verdict, reply: VenueReply) -> None:
        super().__init__(describe(reply))
        self.verdict = verdict
        self.reply = reply


class CcxtCalls:
    def __init__(
        self, name: str, exchange: Any, log: RequestLog, clock: Callable[[], float]
    ) -> None:
        self._name = name
        self._exchange = exchange
        self._log = log
        self._clock = clock
        self._lock = asyncio.Lock()
        self._quiet_until = 0.0

    async def ready(self) -> None:
        """Markets loaded (nothing that matters was sent if this fails), no 429 pause running."""
        if self._clock() < self._quiet_until:
            raise VenueNotReached("backing off: the venue asked us to slow down")
        if self._exchange.markets is None:
            try:
                await self.call(lambda: self._exchange.load_markets())
            except CallFailed as failed:
                if failed.verdict is Verdict.REJECTED:  # a bad key fails here first
                    raise self.translate(failed) from None
                raise VenueNotReached(f"markets unavailable: {failed}") from None

    async def checked(self, operation: Callable[[], Awaitable[T]]) -> T:
        """`call`, with a failure turned into `VenueRejected` / `VenueOutcomeUnknown`."""
        try:
            return await self.call(operation)
        except CallFailed as failed:
            raise self.translate(failed) from None

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            self._log.reset()
            self._exchange.last_http_response = None
            try:
                return await operation()
            except ccxt_async().BaseError as exc:
                raise self._failure(exc) from exc

    def translate(self, failed: CallFailed) -> Exception:
        detail = f"{self._name}: {describe(failed.reply)}"
        if failed.verdict is Verdict.REJECTED:
            return VenueRejected(detail)
        return VenueOutcomeUnknown(detail, failed.reply.retry_after_seconds)

    def _failure(self, exc: Exception) -> CallFailed:
        last = self._log.last
        if last is None:  # refused by ccxt itself, before any request: a definite refusal
            reply = VenueReply(400, 0, f"{type(exc).__name__}: {str(exc)[:200]}")
            return CallFailed(Verdict.REJECTED, reply)
        body = self._exchange.last_http_response if last.http_status is not None else None
        code, message = venue_error(body)
        retry_after = seconds(last.retry_after)
        reply = VenueReply(last.http_status, code, message, retry_after)
        if last.http_status in (418, 429):
            self._quiet_until = self._clock() + (retry_after or RATE_LIMIT_PAUSE_SECONDS)
        return CallFailed(classify(reply), reply)


def venue_error(body: Any) -> tuple[int | None, str]:
    """The venue's error code and message from a response body (`{"code": .., "msg": ..}`)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None, ""
    if not isinstance(body, dict):
        return None, ""
    code, message = body.get("code"), str(body.get("msg") or body.get("message") or "")
    try:
        return (int(code) if code is not None else None), message
    except (TypeError, ValueError):
        return None, message


def seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
