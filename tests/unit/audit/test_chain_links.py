"""Where a batch of published chain links ends, and what a link accepts."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from services.audit.links import batch_through
from shared.contracts.audit import AuditLink


def link(seq: int) -> AuditLink:
    return AuditLink(event_id=uuid.uuid4(), seq=seq, prev_hash="0" * 64, hash="ab" * 32)


def test_a_full_batch_ends_at_its_last_link_as_more_rows_may_follow() -> None:
    assert batch_through([link(3), link(5)], head_seq=9, limit=2) == 5


def test_a_short_or_empty_batch_covers_every_row_up_to_the_head() -> None:
    assert batch_through([link(3)], head_seq=9, limit=2) == 9
    assert batch_through([], head_seq=9, limit=2) == 9


@pytest.mark.parametrize("field", ["prev_hash", "hash"])
def test_a_link_refuses_a_hash_that_is_not_64_lowercase_hex_digits(field: str) -> None:
    with pytest.raises(ValidationError):
        AuditLink.model_validate(
            {"event_id": str(uuid.uuid4()), "seq": 1, "prev_hash": "0" * 64, "hash": "0" * 64}
            | {field: "AB" * 32}
        )
