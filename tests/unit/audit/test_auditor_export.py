"""The auditor's export: every line re-verifies with an implementation written from
docs/canonical-json.md alone (tests/support/auditor.py); one changed amount is caught at its row;
each row names who caused it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest

from services.audit.chain import GENESIS_HASH, next_row, trail_document
from shared.audit_actor import ADMIN_ACTIONS, USER_ACTIONS, Actor, ActorKind, actor_of
from shared.audit_export import (
    CSV_HEADER,
    ExportRow,
    InvalidSeqRange,
    SeqRange,
    csv_fields,
    jsonl_line,
    seq_range,
)
from shared.clock import utc_now
from shared.contracts import Envelope, new_message, registered
from shared.contracts.accounts import KillSwitchChanged, UserRegistered
from shared.contracts.deadletter import DeadLettered
from shared.contracts.decisions import OrderRejected
from shared.contracts.reasons import RejectReason
from shared.contracts.restrictions import RestrictionChanged, RestrictionScope
from shared.contracts.wallet import RecordDeposit
from tests.support.auditor import GENESIS, canonical_text, csv_rows, jsonl_rows, verify_rows
from tests.unit.audit.messages import filled_order_flow
from tests.unit.audit.test_canonical_json import (
    ORDER_APPROVED_HASH,
    PLACE_ORDER_CANONICAL,
    PLACE_ORDER_HASH,
    documented_messages,
)


def trail_of(messages: list[Envelope]) -> list[ExportRow]:
    """The rows the audit service would append for `messages`, as the export reads them."""
    rows, seq, head = [], 0, GENESIS_HASH
    for message in messages:
        row = next_row(seq, head, trail_document(message))
        rows.append(
            ExportRow(row.seq, row.prev_hash, row.hash, json.loads(json.dumps(row.message)))
        )
        seq, head = row.seq, row.hash
    return rows


def export(rows: list[ExportRow]) -> str:
    return "".join(jsonl_line(row) for row in rows)


def test_the_documented_example_verifies_with_the_independent_verifier() -> None:
    place, approved = documented_messages()

    assert canonical_text(place) == PLACE_ORDER_CANONICAL
    verdict = verify_rows(
        [
            {"seq": 1, "prev_hash": GENESIS, "hash": PLACE_ORDER_HASH, "message": place},
            {
                "seq": 2,
                "prev_hash": PLACE_ORDER_HASH,
                "hash": ORDER_APPROVED_HASH,
                "message": approved,
            },
        ]
    )
    assert verdict.ok and verdict.head_hash == ORDER_APPROVED_HASH


def test_an_export_reverifies_from_the_file_alone() -> None:
    rows = trail_of(filled_order_flow("ord-a") + filled_order_flow("ord-b"))

    verdict = verify_rows(jsonl_rows(export(rows)))

    assert (verdict.ok, verdict.rows, verdict.head_seq) == (True, 14, 14)
    assert verdict.head_hash == rows[-1].hash


def test_one_changed_amount_is_caught_at_its_row() -> None:
    text = export(trail_of(filled_order_flow("ord-a") + filled_order_flow("ord-b")))
    lines = text.splitlines(keepends=True)
    assert '"type":"OrderFilled"' in lines[11] and '"amount":"0.01"' in lines[11]
    lines[11] = lines[11].replace('"amount":"0.01"', '"amount":"0.02"', 1)

    verdict = verify_rows(jsonl_rows("".join(lines)))

    assert (verdict.ok, verdict.first_bad_seq, verdict.rows) == (False, 12, 11)
    assert "recomputes" in (verdict.why or "")


def test_a_removed_line_is_caught_where_the_gap_is() -> None:
    lines = export(trail_of(filled_order_flow())).splitlines(keepends=True)

    verdict = verify_rows(jsonl_rows("".join(lines[:3] + lines[4:])))

    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


def test_the_bytes_after_message_on_a_line_are_the_hashed_bytes() -> None:
    rows = trail_of(filled_order_flow())
    for row, line in zip(rows, export(rows).splitlines(), strict=True):
        hashed = line.split(',"message":', 1)[1].removesuffix("}")
        assert line.startswith(f'{{"seq":{row.seq},"prev_hash":"{row.prev_hash}","hash":')
        assert canonical_text(json.loads(hashed)) == hashed
        assert verify_rows([{**json.loads(line), "message": json.loads(hashed)}]).ok


def test_an_export_from_a_later_row_links_to_the_hash_the_auditor_holds() -> None:
    rows = trail_of(filled_order_flow())
    later = jsonl_rows(export(rows[3:]))

    assert verify_rows(later, start_hash=rows[2].hash).ok
    assert verify_rows(later, start_hash=rows[1].hash).first_bad_seq == 4


def test_the_csv_export_has_the_same_columns_and_reverifies() -> None:
    rows = trail_of(filled_order_flow())
    file = io.StringIO(newline="")
    writer = csv.writer(file)  # as `cryptoorch audit export --format csv` writes it
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_fields(row) for row in rows)

    parsed = csv_rows(file.getvalue())

    assert verify_rows(parsed).ok
    assert parsed == jsonl_rows(export(rows))


def message(payload: Any, producer: str = "gateway", account: str = "user-1") -> dict[str, Any]:
    envelope = new_message(
        payload, producer=producer, account_id=account, correlation_id="c-1", now=utc_now()
    )
    return trail_document(envelope)


def test_a_users_own_request_names_the_user() -> None:
    place = trail_document(filled_order_flow()[0])

    assert actor_of(place) == Actor(ActorKind.USER, "user-1")
    assert actor_of(message(UserRegistered(user_id="user-1", role="user"))).kind == "user"


def test_an_administrators_action_names_the_administrator() -> None:
    deposit = RecordDeposit(
        deposit_id="d-1", asset="USDT", amount="10", reference="r-1", recorded_by="admin-7"
    )
    switch = KillSwitchChanged(scope="global", engaged=True, reason="r", changed_by="admin-7")
    from_cli = KillSwitchChanged(scope="global", engaged=True, reason="r", changed_by="cli:ops")
    admin = UserRegistered(user_id="admin-9", role="admin")
    restriction = RestrictionChanged(
        scope=RestrictionScope.SYMBOL,
        target="BTC/USDT",
        restricted=True,
        reason="r",
        changed_by="admin-7",
    )

    assert actor_of(message(deposit)) == Actor(ActorKind.ADMIN, "admin-7")
    assert actor_of(message(switch, account="system")) == Actor(ActorKind.ADMIN, "admin-7")
    assert actor_of(message(from_cli, account="system")) == Actor(ActorKind.ADMIN, "cli:ops")
    assert actor_of(message(admin, account="admin-9")) == Actor(ActorKind.ADMIN, "admin-9")
    assert actor_of(message(restriction, account="system")) == Actor(ActorKind.ADMIN, "admin-7")


def test_a_deposit_recorded_before_deposits_named_their_admin_says_admin_unknown() -> None:
    old = message(RecordDeposit(deposit_id="d-1", asset="USDT", amount="10", reference="r-1"))
    del old["payload"]["recorded_by"]

    assert actor_of(old) == Actor(ActorKind.ADMIN, None)


def test_a_services_decision_names_the_service_and_its_rule() -> None:
    rejected = OrderRejected(
        order_id="o-1", reason=RejectReason.DAILY_VOLUME_EXCEEDED, rule="daily_volume", detail="d"
    )
    halted = KillSwitchChanged(
        scope="account", target="user-1", engaged=True, reason="r", changed_by="safety:recon"
    )

    assert actor_of(message(rejected, "safety")) == Actor(
        ActorKind.SERVICE, "safety", "daily_volume"
    )
    assert actor_of(message(halted, "safety")) == Actor(ActorKind.SERVICE, "safety", "recon")
    filled = trail_document(filled_order_flow()[4])
    assert actor_of(filled) == Actor(ActorKind.SERVICE, "execution")


def test_a_dead_letter_names_the_service_whose_consumer_parked_it() -> None:
    parked = DeadLettered(
        original_topic="ledger.events.v1",
        original_partition=0,
        original_offset=1,
        original_key="user-1",
        original_value_b64="",
        original_headers={},
        error="e",
        attempts=3,
        consumer="cryptoorch.ledger",
    )

    assert actor_of(message(parked, "cryptoorch.ledger")) == Actor(ActorKind.SERVICE, "ledger")


def test_a_malformed_message_still_gets_an_actor() -> None:
    assert actor_of({}) == Actor(ActorKind.SERVICE, None)
    assert actor_of({"producer": "gateway", "type": "PlaceOrder"}) == Actor(ActorKind.USER, None)


SERVICE_EVENTS = {
    "OrderApproved", "OrderRejected", "WithdrawalApproved", "WithdrawalRejected",
    "SuspiciousActivityFlagged", "FundsHeld", "FundsHoldRejected", "HoldSettled", "HoldReleased",
    "BalanceChanged", "LedgerDiscrepancy", "BalanceDiscrepancyDetected", "OrderSubmitted",
    "OrderFilled", "OrderCancelled", "OrderFailed", "OrderOutcomeUnknown", "WithdrawalSent",
    "WithdrawalFailed", "DepositDetected", "PriceTick", "MarketsListed", "ExchangeKeyValidated",
    "VenueBalancesReported", "AuditCheckpoint", "AuditChainLinks", "DeadLettered",
    "DepositCredited", "DepositRejected",
}  # fmt: skip
"""Messages a service emits on its own account: the actor is the service (and its rule)."""


def test_every_message_type_has_a_decided_actor() -> None:
    """A new message type must be placed: a person's action (shared/audit_actor.py) or a
    service's own event (SERVICE_EVENTS above). Otherwise the export would guess."""
    kinds = {kind for kind, _ in registered()}
    person = USER_ACTIONS | set(ADMIN_ACTIONS)

    assert kinds - person - SERVICE_EVENTS == set(), "decide the actor of these message types"
    assert person & SERVICE_EVENTS == set()


@pytest.mark.parametrize(
    ("from_seq", "to_seq", "head", "expected"),
    [
        (None, None, 40, SeqRange(1, 40)),
        (5, 9, 40, SeqRange(5, 9)),
        (5, 90, 40, SeqRange(5, 40)),
        (7, 7, 40, SeqRange(7, 7)),
        (50, None, 40, SeqRange(50, 40)),
    ],
)
def test_the_rows_exported_never_go_past_the_head(
    from_seq: int | None, to_seq: int | None, head: int, expected: SeqRange
) -> None:
    assert seq_range(from_seq, to_seq, head) == expected


@pytest.mark.parametrize(("from_seq", "to_seq"), [(0, None), (-1, 5), (1, 0), (9, 8)])
def test_a_range_that_names_no_rows_is_refused(from_seq: int, to_seq: int | None) -> None:
    with pytest.raises(InvalidSeqRange):
        seq_range(from_seq, to_seq, 100)


def test_every_line_carries_its_actor() -> None:
    rows = trail_of(filled_order_flow())
    actors = [row["actor"] for row in jsonl_rows(export(rows))]

    assert actors[0] == {"kind": "user", "id": "user-1", "rule": None}
    assert [a["id"] for a in actors[1:]] == [
        "safety", "ledger", "execution", "execution", "ledger", "ledger"
    ]  # fmt: skip
    assert uuid.UUID(jsonl_rows(export(rows))[0]["message"]["event_id"])
