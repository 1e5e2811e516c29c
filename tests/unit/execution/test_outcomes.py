from __future__ import annotations

import pytest

from services.execution.domain.outcomes import (
    Backoff,
    NotFoundStep,
    VenueReply,
    Verdict,
    after_not_found,
    classify,
    describe,
)

INSUFFICIENT = "Account has insufficient balance for requested action."


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (VenueReply(None), Verdict.UNKNOWN),  # timeout, connection lost
        (VenueReply(503), Verdict.UNKNOWN),
        (VenueReply(500, -1000, "An unknown error occurred"), Verdict.UNKNOWN),
        (VenueReply(502, -2010, INSUFFICIENT), Verdict.UNKNOWN),  # the status wins over the code
        (VenueReply(429, -1003, "Too many requests", 2.0), Verdict.UNKNOWN),
        (VenueReply(418), Verdict.UNKNOWN),
        (VenueReply(408, -1007, "Timeout waiting for response"), Verdict.UNKNOWN),
        (VenueReply(400, -1007, "Timeout waiting for response"), Verdict.UNKNOWN),
        (VenueReply(404), Verdict.UNKNOWN),  # a proxy's 404 is not the venue's refusal
        (VenueReply(400, -2010, INSUFFICIENT), Verdict.REJECTED),
        (VenueReply(400, -2010, "Duplicate order sent."), Verdict.DUPLICATE),
        (VenueReply(400, -1013, "Invalid quantity."), Verdict.REJECTED),
        (VenueReply(400, -1022, "Signature for this request is not valid."), Verdict.REJECTED),
        (VenueReply(401, -2014, "API-key format invalid."), Verdict.REJECTED),
        (VenueReply(401, -2015, "Invalid API-key, IP, or permissions"), Verdict.REJECTED),
        (VenueReply(400, -2013, "Order does not exist."), Verdict.NOT_FOUND),
        (VenueReply(400, -2011, "Unknown order sent."), Verdict.NOT_FOUND),
    ],
)
def test_a_reply_is_classified_by_http_status_first_then_by_venue_code(
    reply: VenueReply, verdict: Verdict
) -> None:
    assert classify(reply) is verdict


def test_a_description_names_status_code_and_message() -> None:
    assert describe(VenueReply(400, -2010, INSUFFICIENT)) == f"HTTP 400 code -2010 {INSUFFICIENT}"
    assert "no answer" in describe(VenueReply(None))


def test_the_backoff_doubles_up_to_its_cap_and_never_undercuts_a_retry_after() -> None:
    backoff = Backoff(first_seconds=1.0, max_seconds=10.0)
    assert [backoff.delay(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(0, retry_after=30.0) == 30.0
    assert backoff.delay(10_000) == 10.0


def step(not_found: int, submissions: int = 1, cancel: bool = False) -> NotFoundStep:
    return after_not_found(
        not_found_so_far=not_found,
        not_found_lookups=3,
        submissions=submissions,
        max_submissions=2,
        cancel_requested=cancel,
    )


def test_an_unknown_order_is_looked_up_again_until_the_venue_said_not_found_enough_times() -> None:
    assert [step(n) for n in range(3)] == [
        NotFoundStep.LOOK_AGAIN,
        NotFoundStep.LOOK_AGAIN,
        NotFoundStep.RESUBMIT,
    ]


def test_an_order_never_found_after_its_last_allowed_send_fails() -> None:
    assert step(2, submissions=2) is NotFoundStep.FAIL


def test_a_cancel_asked_for_meanwhile_wins_over_sending_again() -> None:
    assert step(1, cancel=True) is NotFoundStep.LOOK_AGAIN
    assert step(2, cancel=True) is NotFoundStep.CANCEL
