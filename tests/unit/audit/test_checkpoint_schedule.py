"""When a checkpoint is due, and what its line in the file outside the database holds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.audit.chain import Checkpoint
from services.audit.checkpoints import checkpoint_due, checkpoint_line, parse_checkpoint_line
from services.audit.errors import CheckpointFileInvalid
from tests.unit.audit.messages import START


def due(head_seq: int, last_seq: int, seconds_since: float) -> bool:
    return checkpoint_due(
        head_seq=head_seq,
        last_seq=last_seq,
        since=START,
        now=START + timedelta(seconds=seconds_since),
        every=1000,
        seconds=60,
    )


def test_due_after_every_n_appends() -> None:
    assert due(2000, 1000, 1)
    assert not due(1999, 1000, 1)


def test_due_after_t_seconds_only_when_something_was_appended() -> None:
    assert due(1001, 1000, 60)
    assert not due(1000, 1000, 3600)
    assert not due(1001, 1000, 59.9)


def test_a_line_round_trips() -> None:
    checkpoint = Checkpoint(1000, "ab" * 32, "2025-01-02T03:04:05+00:00", "cryptoorch_audit")
    line = checkpoint_line(checkpoint)

    assert line.endswith("\n") and line.count("\n") == 1
    assert parse_checkpoint_line(line, 1) == checkpoint


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '{"seq": 0, "hash": "' + "ab" * 32 + '", "at": "x"}',
        '{"seq": true, "hash": "' + "ab" * 32 + '", "at": "x"}',
        '{"seq": 5, "hash": "ABC", "at": "x"}',
        '{"seq": 5, "hash": "' + "ab" * 32 + '"}',
    ],
)
def test_an_unreadable_line_is_refused_with_its_number(line: str) -> None:
    with pytest.raises(CheckpointFileInvalid, match="line 3"):
        parse_checkpoint_line(line, 3)
