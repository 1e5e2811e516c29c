"""What a venue's answer means, and what to do while an outcome is unknown. Pure: no I/O, no clock.

Classification looks at the HTTP status first and the venue's error code second; the exception
class an exchange library raised is never enough on its own (ccxt maps a 503 and a refused
connection to the same class, and an "insufficient balance" to a class without its code).

The unknown-outcome rule (orders):
1. A request that may have reached the venue and got no definite answer (timeout, connection
   lost, 5xx, 429/418, or a code that says "status unknown") leaves the order `unknown`. It is
   NEVER sent again while unknown: it is looked up by its client order id, with exponential
   backoff (and never sooner than a `Retry-After`).
2. A lookup that finds it settles it (submitted, fills, cancel, ...).
3. A lookup answered "order does not exist" (-2013) is counted; only after
   `not_found_lookups` such answers in a row, spaced by the backoff, is the order concluded never
   placed. Only then is it sent again, with the SAME client order id (a venue that got it after
   all refuses the duplicate, which is then looked up), and at most `max_submissions` times in
   all; after that it fails. A cancel asked for meanwhile wins: the order is cancelled, not sent.
4. A lookup that gets no definite answer counts for nothing and is retried with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    REJECTED = "rejected"  # definitely refused: nothing happened at the venue
    UNKNOWN = "unknown"  # may or may not have happened
    DUPLICATE = "duplicate"  # the client order id is taken: the order exists
    NOT_FOUND = "not_found"  # the venue does not know the order


UNKNOWN_STATUS_CODES = frozenset({-1000, -1001, -1003, -1006, -1007, -1008, -1015})
"""Binance codes that say the request's fate is not known (unknown error, disconnected, too many
requests, unexpected response, backend timeout, server busy, too many orders)."""
NOT_FOUND_CODES = frozenset({-2013, -2011, -2026})
"""Order does not exist / unknown order sent (cancel) / order archived."""
DUPLICATE_MESSAGE = "duplicate order"


@dataclass(frozen=True)
class VenueReply:
    """What came back for the request that failed: `http_status` None when nothing came back."""

    http_status: int | None
    venue_code: int | None = None
    venue_message: str = ""
    retry_after_seconds: float | None = None


def classify(reply: VenueReply) -> Verdict:
    status, code = reply.http_status, reply.venue_code
    if status is None or status >= 500 or status in (408, 418, 429):
        return Verdict.UNKNOWN
    if code in UNKNOWN_STATUS_CODES:
        return Verdict.UNKNOWN
    if code == -2010 and DUPLICATE_MESSAGE in reply.venue_message.lower():
        return Verdict.DUPLICATE
    if code in NOT_FOUND_CODES:
        return Verdict.NOT_FOUND
    if 400 <= status < 500 and code is not None:
        return Verdict.REJECTED
    return Verdict.UNKNOWN  # a 4xx without a venue code (a proxy's 404, ...): not a refusal


def describe(reply: VenueReply) -> str:
    """A short, secret-free account of the reply, for `detail` fields and logs."""
    if reply.http_status is None:
        return "no answer from the venue (timeout or connection lost)"
    parts = [f"HTTP {reply.http_status}"]
    if reply.venue_code is not None:
        parts.append(f"code {reply.venue_code}")
    if reply.venue_message:
        parts.append(reply.venue_message[:200])
    return " ".join(parts)


@dataclass(frozen=True)
class Backoff:
    first_seconds: float
    max_seconds: float

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Wait before the next look after `failures` inconclusive ones (first: `first_seconds`)."""
        exponential: float = self.first_seconds * float(2 ** max(0, min(failures, 30)))
        return max(min(exponential, self.max_seconds), retry_after or 0.0)


class NotFoundStep(StrEnum):
    LOOK_AGAIN = "look_again"
    RESUBMIT = "resubmit"
    CANCEL = "cancel"
    FAIL = "fail"


def after_not_found(
    *,
    not_found_so_far: int,
    not_found_lookups: int,
    submissions: int,
    max_submissions: int,
    cancel_requested: bool,
) -> NotFoundStep:
    """The next step for an `unknown` order the venue just said it does not know (rule 3)."""
    if not_found_so_far + 1 < not_found_lookups:
        return NotFoundStep.LOOK_AGAIN
    if cancel_requested:
        return NotFoundStep.CANCEL
    if submissions >= max_submissions:
        return NotFoundStep.FAIL
    return NotFoundStep.RESUBMIT
