"""The chain fold names the first broken row for every kind of tampering the trail can suffer,
with the same verdict whether it reads rows as the table stores them (`feed_stored`, the fast
path `audit verify` takes) or as `TrailRow`s (`feed`, the exact rules)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from services.audit.chain import (
    GENESIS_HASH,
    ChainFold,
    Checkpoint,
    Finding,
    Problem,
    StoredRow,
    TrailRow,
    next_row,
    next_rows,
    trail_document,
)
from tests.unit.audit.messages import filled_order_flow


def build_chain(documents: list[dict[str, Any]]) -> list[TrailRow]:
    """What the appender (or an attacker recomputing every hash) writes for these messages."""
    rows: list[TrailRow] = []
    seq, head = 0, GENESIS_HASH
    for document in documents:
        row = next_row(seq, head, document)
        rows.append(row)
        seq, head = row.seq, row.hash
    return rows


def trail(orders: int = 2) -> list[TrailRow]:
    documents = [trail_document(m) for n in range(orders) for m in filled_order_flow(f"ord-{n}")]
    return build_chain(documents)


def checkpoint_at(rows: list[TrailRow], seq: int) -> Checkpoint:
    return Checkpoint(seq, rows[seq - 1].hash, f"checkpoint-{seq}")


def as_stored(row: TrailRow) -> StoredRow:
    """The row as `audit verify` reads it from the table: JSON text, the ids as text."""
    columns = [
        str(v) if k in ("event_id", "causation_id") and v else v for k, v in row.columns.items()
    ]
    return (row.seq, row.prev_hash, row.hash, json.dumps(row.message), *columns)


def verify(rows: list[TrailRow], checkpoints: Sequence[Checkpoint] = ()) -> Finding | None:
    """The first finding, the same from both paths (and the same counts on the way)."""
    exact, fast = ChainFold(checkpoints), ChainFold(checkpoints)
    for row in rows:
        finding = exact.feed(row)
        assert fast.feed_stored(as_stored(row)) == finding
        if finding is not None:
            return finding
    assert (fast.rows_checked, fast.checkpoints_checked, fast.last_hash) == (
        exact.rows_checked,
        exact.checkpoints_checked,
        exact.last_hash,
    )
    finding = exact.finish()
    assert fast.finish() == finding
    return finding


def with_message(row: TrailRow, message: dict[str, Any]) -> TrailRow:
    return dataclasses.replace(row, message=message)


def test_an_untouched_trail_verifies_with_its_checkpoints() -> None:
    rows = trail()
    fold = ChainFold([checkpoint_at(rows, 5), checkpoint_at(rows, 14)])

    assert all(fold.feed(row) is None for row in rows)
    assert fold.finish() is None
    assert (fold.rows_checked, fold.checkpoints_checked) == (14, 2)
    assert fold.last_hash == rows[-1].hash
    assert verify(rows, [checkpoint_at(rows, 5), checkpoint_at(rows, 14)]) is None


def test_a_batch_chained_at_once_is_the_chain_of_its_messages_one_by_one() -> None:
    documents = [row.message for row in trail(orders=30)]

    batch = next_rows(0, GENESIS_HASH, documents)

    assert batch == build_chain(documents)
    assert [row.seq for row in batch] == list(range(1, 211))
    assert verify(batch) is None


def test_a_row_changed_in_the_middle_of_a_batch_is_named() -> None:
    rows = next_rows(0, GENESIS_HASH, [row.message for row in trail(orders=30)])
    middle = rows[104]
    rows[104] = with_message(middle, {**middle.message, "account_id": "someone-else"})

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (105, Problem.HASH_MISMATCH)


def test_integers_beyond_64_bits_verify_and_a_rehashed_float_does_not() -> None:
    rows = trail()
    huge = dict(rows[0].message, payload={**rows[0].message["payload"], "n": 10**30})
    rows = build_chain([huge, *(row.message for row in rows[1:])])
    assert verify(rows) is None
    assert '"n":1000000000000000000000000000000' in json.dumps(
        rows[0].message, separators=(",", ":")
    )

    floated = dict(rows[1].message, payload={**rows[1].message["payload"], "n": 1.5})
    forged = dataclasses.replace(rows[1], message=floated)
    text = json.dumps(floated, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rehashed = hashlib.sha256(bytes.fromhex(rows[0].hash) + text.encode()).hexdigest()
    rows[1] = dataclasses.replace(forged, hash=rehashed)

    finding = verify(rows[:2])

    assert finding is not None
    assert (finding.seq, finding.problem) == (2, Problem.HASH_MISMATCH)
    assert "non-integer number" in finding.detail


def test_one_changed_byte_of_a_payload_names_that_row() -> None:
    rows = trail()
    changed = json.loads(json.dumps(rows[4].message).replace('"65010"', '"65011"'))
    rows[4] = with_message(rows[4], changed)

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (5, Problem.HASH_MISMATCH)


def test_a_number_turned_into_a_float_is_named_not_a_crash() -> None:
    rows = trail()
    rows[1] = with_message(rows[1], {**rows[1].message, "version": 1.0})

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (2, Problem.HASH_MISMATCH)


def test_a_message_replaced_by_something_not_an_envelope_is_named() -> None:
    rows = trail()
    rows[2] = with_message(rows[2], ["not", "an", "envelope"])  # type: ignore[arg-type]

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (3, Problem.HASH_MISMATCH)


def test_a_deleted_row_is_named_as_missing() -> None:
    rows = trail()
    del rows[6]

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (7, Problem.SEQ_GAP)
    assert "row 7 is missing" in finding.detail


def test_two_swapped_rows_name_the_first_of_them() -> None:
    rows = trail()
    third, fifth = rows[2], rows[4]
    rows[2] = dataclasses.replace(fifth, seq=3)
    rows[4] = dataclasses.replace(third, seq=5)

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (3, Problem.PREV_HASH_MISMATCH)


def test_two_swapped_messages_under_unchanged_hashes_name_the_first_of_them() -> None:
    rows = trail()
    rows[2], rows[4] = (
        with_message(rows[2], rows[4].message),
        with_message(rows[4], rows[2].message),
    )

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (3, Problem.HASH_MISMATCH)


def test_a_forged_row_with_recomputed_hashes_shows_at_the_next_checkpoint() -> None:
    rows = trail()
    checkpoints = [checkpoint_at(rows, 5), checkpoint_at(rows, 12)]
    documents = [row.message for row in rows]
    forged = dict(documents[8], event_id="00000000-0000-4000-8000-00000000f00d")
    rewritten = build_chain([*documents[:8], forged, *documents[8:]])

    finding = verify(rewritten, checkpoints)

    assert finding is not None
    assert (finding.seq, finding.problem) == (12, Problem.CHECKPOINT_MISMATCH)
    assert "rows 6..12 were rewritten" in finding.detail


def test_a_consistently_rebuilt_trail_disagrees_with_the_first_checkpoint_it_rewrote() -> None:
    rows = trail()
    checkpoints = [checkpoint_at(rows, 5), checkpoint_at(rows, 10)]
    documents = [row.message for row in rows]
    rebuilt = build_chain(documents[:2] + documents[3:])  # row 3 dropped, the rest renumbered

    finding = verify(rebuilt, checkpoints)

    assert finding is not None
    assert (finding.seq, finding.problem) == (5, Problem.CHECKPOINT_MISMATCH)


def test_rows_cut_off_the_end_show_against_a_later_checkpoint() -> None:
    rows = trail()
    checkpoints = [checkpoint_at(rows, 14)]

    finding = verify(rows[:9], checkpoints)

    assert finding is not None
    assert (finding.seq, finding.problem) == (10, Problem.CHECKPOINT_BEYOND_END)
    assert "rows 10..14 are missing" in finding.detail


def test_an_emptied_trail_shows_against_its_checkpoints() -> None:
    rows = trail()

    finding = verify([], [checkpoint_at(rows, 7)])

    assert finding is not None
    assert (finding.seq, finding.problem) == (1, Problem.CHECKPOINT_BEYOND_END)


def test_a_query_column_edited_away_from_its_message_is_named() -> None:
    rows = trail()
    rows[3] = dataclasses.replace(rows[3], columns={**rows[3].columns, "correlation_id": "other"})

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (4, Problem.COLUMN_MISMATCH)
    assert "correlation_id" in finding.detail


def test_the_first_row_must_link_to_genesis() -> None:
    rows = trail()
    rows[0] = dataclasses.replace(rows[0], prev_hash="f" * 64)

    finding = verify(rows)

    assert finding is not None
    assert (finding.seq, finding.problem) == (1, Problem.PREV_HASH_MISMATCH)
