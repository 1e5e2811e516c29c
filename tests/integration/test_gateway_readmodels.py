"""Read models follow decisions, ledger and execution events from the broker, in any order."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shared.clock import utc_now
from shared.contracts import decisions, execution, ledger
from shared.contracts.audit import AuditChainLinks, AuditLink
from shared.contracts.envelope import Envelope, new_message
from shared.contracts.execution import FillStatus
from shared.contracts.orders import OrderSpec
from shared.contracts.reasons import RejectReason
from shared.contracts.wallet import WithdrawalSpec
from shared.ids import SYSTEM_ACCOUNT
from shared.infra.resolve import Infrastructure
from tests.support.gateway_service import (
    Gateway,
    User,
    event,
    gateway,
    market_buy,
    new_key,
)
from tests.support.topics import publish_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
__all__ = ["gateway"]


async def place(gateway: Gateway, user: User, amount: str = "0.01") -> str:
    response = await gateway.http.post(
        "/v1/orders", json=market_buy(amount), headers=user.auth(new_key())
    )
    assert response.status_code == 202
    order_id: str = response.json()["order_id"]
    return order_id


def spec(order_id: str, amount: str = "0.01") -> OrderSpec:
    return OrderSpec.model_validate(
        {
            "order_id": order_id,
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "market",
            "amount": amount,
        }
    )


def fill(
    order_id: str, trade: str, amount: str, price: str, fee: str, done: bool, total: str
) -> Any:
    return execution.OrderFilled(
        order_id=order_id,
        trade_id=trade,
        symbol="BTC/USDT",
        side="buy",
        amount=Decimal(amount),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_asset="USDT",
        status=FillStatus.FILLED if done else FillStatus.PARTIALLY_FILLED,
        cumulative_amount=Decimal(total),
    )


async def order_view(gateway: Gateway, user: User, order_id: str) -> dict[str, Any]:
    response = await gateway.http.get(f"/v1/orders/{order_id}", headers=user.auth())
    body: dict[str, Any] = response.json()
    return body


async def wait_for_status(
    gateway: Gateway, user: User, order_id: str, status: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return await order_view(gateway, user, order_id)

    return await eventually(
        probe, until=lambda o: o["status"] == status, timeout=30, what=f"order {status}"
    )


async def test_an_order_filled_in_two_trades_shows_totals_even_when_news_arrives_out_of_order(
    gateway: Gateway, infra: Infrastructure
) -> None:
    user = await gateway.register()
    order_id = await place(gateway, user)
    first = event(
        fill(order_id, "t1", "0.004", "65000", "0.26", False, "0.004"), user.user_id, order_id
    )
    second = event(
        fill(order_id, "t2", "0.006", "65100", "0.3906", True, "0.01"), user.user_id, order_id
    )
    duplicate_trade = event(
        fill(order_id, "t2", "0.006", "65100", "0.3906", True, "0.01"), user.user_id, order_id
    )
    approved = event(
        decisions.OrderApproved(
            order=spec(order_id), reference_price=Decimal("65000"), price_band=Decimal("0.1")
        ),
        user.user_id,
        order_id,
    )
    held = event(
        ledger.FundsHeld(
            hold_id=order_id,
            purpose=ledger.HoldPurpose.ORDER,
            asset="USDT",
            amount=Decimal("716"),
            order=spec(order_id),
        ),
        user.user_id,
        order_id,
    )
    await publish_to(infra.kafka_access, first, second, duplicate_trade)
    await wait_for_status(gateway, user, order_id, "filled")
    await publish_to(infra.kafka_access, approved, held)

    async def audited() -> int:
        entries = await gateway.http.get(
            f"/v1/audit?correlation_id={order_id}", headers=user.auth()
        )
        return len(entries.json()["items"])

    await eventually(audited, until=lambda n: n == 6, what="all six messages in the audit view")
    order = await order_view(gateway, user, order_id)
    assert order["status"] == "filled"
    assert order["filled_amount"] == "0.01"
    assert order["average_price"] == "65060"
    assert (order["fee"], order["fee_asset"]) == ("0.6506", "USDT")


async def test_insufficient_funds_rejects_and_a_late_approval_does_not_revive(
    gateway: Gateway, infra: Infrastructure
) -> None:
    user = await gateway.register()
    order_id = await place(gateway, user)
    hold_refused = event(
        ledger.FundsHoldRejected(
            hold_id=order_id,
            purpose=ledger.HoldPurpose.ORDER,
            reason=RejectReason.INSUFFICIENT_FUNDS,
            asset="USDT",
            requested=Decimal("650"),
            available=Decimal("10"),
        ),
        user.user_id,
        order_id,
    )
    late_approval = event(
        decisions.OrderApproved(
            order=spec(order_id), reference_price=Decimal("65000"), price_band=Decimal("0.1")
        ),
        user.user_id,
        order_id,
    )
    await publish_to(infra.kafka_access, hold_refused, late_approval)
    rejected = await wait_for_status(gateway, user, order_id, "rejected")
    assert rejected["reject_reason"] == "INSUFFICIENT_FUNDS"

    async def audited() -> int:
        entries = await gateway.http.get(
            f"/v1/audit?correlation_id={order_id}", headers=user.auth()
        )
        return len(entries.json()["items"])

    await eventually(audited, until=lambda n: n == 3, what="the late approval consumed")
    assert (await order_view(gateway, user, order_id))["status"] == "rejected"


async def test_a_safety_rejection_carries_its_reason(
    gateway: Gateway, infra: Infrastructure
) -> None:
    user = await gateway.register()
    order_id = await place(gateway, user, "1000")
    refused = decisions.OrderRejected(
        order_id=order_id,
        reason=RejectReason.AMOUNT_ABOVE_MAX,
        rule="max_notional",
        detail="too big",
    )
    await publish_to(infra.kafka_access, event(refused, user.user_id, order_id, producer="safety"))
    order = await wait_for_status(gateway, user, order_id, "rejected")
    assert (order["reject_reason"], order["reject_detail"]) == ("AMOUNT_ABOVE_MAX", "too big")


async def test_balances_keep_the_newest_version(gateway: Gateway, infra: Infrastructure) -> None:
    user = await gateway.register()

    def balance(available: str, held: str, version: int) -> Envelope:
        payload = ledger.BalanceChanged(
            asset="USDT", available=Decimal(available), held=Decimal(held), version=version
        )
        return event(payload, user.user_id, "deposit-1", producer="ledger")

    await publish_to(infra.kafka_access, balance("9000", "1000", 3), balance("10000", "0", 2))
    await publish_to(
        infra.kafka_access,
        balance("10000.50", "0", 1),
        event(
            ledger.BalanceChanged(
                asset="BTC", available=Decimal("0.01"), held=Decimal("0"), version=1
            ),
            user.user_id,
            "order-x",
        ),
    )

    async def balances() -> list[dict[str, str]]:
        response = await gateway.http.get("/v1/balances", headers=user.auth())
        items: list[dict[str, str]] = response.json()["items"]
        return items

    items = await eventually(balances, until=lambda b: len(b) == 2, what="two assets")
    assert items == [
        {"asset": "BTC", "available": "0.01", "held": "0", "total": "0.01"},
        {"asset": "USDT", "available": "9000", "held": "1000", "total": "10000"},
    ]


async def test_a_withdrawal_follows_to_sent_with_its_txid(
    gateway: Gateway, infra: Infrastructure
) -> None:
    user = await gateway.register()
    await user.enable_two_factor()
    body = {"asset": "USDT", "amount": "20", "address": "addr-1"}
    response = await gateway.http.post(
        "/v1/withdrawals",
        json=body,
        headers=user.auth(new_key(), **{"X-TOTP-Code": await user.fresh_code()}),
    )
    withdrawal_id = response.json()["withdrawal_id"]
    w_spec = WithdrawalSpec(
        withdrawal_id=withdrawal_id, asset="USDT", amount=Decimal("20"), address="addr-1"
    )
    await publish_to(
        infra.kafka_access,
        event(
            execution.WithdrawalSent(
                withdrawal_id=withdrawal_id, asset="USDT", amount=Decimal("20"), txid="0xabc"
            ),
            user.user_id,
            withdrawal_id,
        ),
        event(decisions.WithdrawalApproved(withdrawal=w_spec), user.user_id, withdrawal_id),
    )

    async def view() -> httpx.Response:
        return await gateway.http.get(f"/v1/withdrawals/{withdrawal_id}", headers=user.auth())

    sent = await eventually(view, until=lambda r: r.json()["status"] == "sent", what="sent")
    assert sent.json()["txid"] == "0xabc"


async def test_a_held_order_shows_its_reason_and_the_flag_only_joins_the_audit_entries(
    gateway: Gateway, infra: Infrastructure
) -> None:
    """Safety sends `SuspiciousActivityFlagged` with the rejection: the read model has nothing
    to change for it, but must take it (not park it) and keep it in the owner's trail."""
    user = await gateway.register()
    order_id = await place(gateway, user)
    flag = decisions.SuspiciousActivityFlagged(
        request_kind=decisions.HeldRequestKind.ORDER,
        request_id=order_id,
        rule="rejection_burst",
        detail="held",
        values={"rejections_last_hour": "50", "threshold": "50"},
    )
    refused = decisions.OrderRejected(
        order_id=order_id,
        reason=RejectReason.SUSPICIOUS_ACTIVITY,
        rule="rejection_burst",
        detail="held",
    )
    await publish_to(
        infra.kafka_access,
        event(flag, user.user_id, order_id, producer="safety"),
        event(refused, user.user_id, order_id, producer="safety"),
    )
    order = await wait_for_status(gateway, user, order_id, "rejected")
    assert order["reject_reason"] == "SUSPICIOUS_ACTIVITY"

    async def audited_types() -> list[str]:
        entries = await gateway.http.get(
            f"/v1/audit?correlation_id={order_id}", headers=user.auth()
        )
        return [item["type"] for item in entries.json()["items"]]

    types = await eventually(
        audited_types, until=lambda t: "SuspiciousActivityFlagged" in t, what="the flag audited"
    )
    assert types.count("SuspiciousActivityFlagged") == 1


def chain_links(*links: tuple[uuid.UUID, int]) -> Envelope:
    """What the audit service publishes: (event id, seq) rows, `hash` of seq n is `n` repeated."""
    payload = AuditChainLinks(
        after_seq=links[0][1] - 1,
        through_seq=links[-1][1],
        links=[
            AuditLink(event_id=event_id, seq=seq, prev_hash=f"{seq - 1:064x}", hash=f"{seq:064x}")
            for event_id, seq in links
        ],
    )
    return new_message(
        payload,
        producer="audit",
        account_id=SYSTEM_ACCOUNT,
        correlation_id="audit-links-test",
        now=utc_now(),
    )


async def test_audit_entries_carry_the_chain_hashes_the_audit_service_publishes(
    gateway: Gateway, infra: Infrastructure
) -> None:
    """A link may arrive before or after the gateway has the message: either way it shows."""
    user = await gateway.register()
    order_id = await place(gateway, user)
    (placed,) = [m for m in await gateway.outbox("PlaceOrder") if m.correlation_id == order_id]
    approved = new_message(
        decisions.OrderApproved(order=spec(order_id), reference_price="65000", price_band="0.1"),
        producer="safety",
        account_id=user.user_id,
        correlation_id=order_id,
        cause=placed,
        now=utc_now(),
    )

    await publish_to(
        infra.kafka_access, chain_links((placed.event_id, 41), (approved.event_id, 42))
    )
    await eventually(
        lambda: gateway.sql("SELECT 1 FROM audit_links WHERE event_id = $1", approved.event_id),
        what="the links stored before the message they name arrives",
    )
    await publish_to(infra.kafka_access, approved)

    async def entries() -> list[dict[str, Any]]:
        response = await gateway.http.get(
            f"/v1/audit?correlation_id={order_id}", headers=user.auth()
        )
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    items = await eventually(entries, until=lambda i: len(i) == 2, what="both entries")
    assert [(i["type"], i["prev_hash"], i["hash"]) for i in items] == [
        ("PlaceOrder", f"{40:064x}", f"{41:064x}"),
        ("OrderApproved", f"{41:064x}", f"{42:064x}"),
    ]
    marker = uuid.uuid4()  # same key, same partition: stored after the one before it is handled
    await publish_to(
        infra.kafka_access, chain_links((placed.event_id, 99)), chain_links((marker, 100))
    )
    await eventually(
        lambda: gateway.sql("SELECT 1 FROM audit_links WHERE event_id = $1", marker),
        what="the later links handled",
    )
    assert (await entries())[0]["hash"] == f"{41:064x}", "a second link rewrote the first"
