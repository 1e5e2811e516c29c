"""Poison messages for the security run: what to inject on each topic, who must park it, and
the state it must not change."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from services.ledger.invariants import check_invariants
from shared.contracts import Payload, Topic, UndecodableMessage, decode
from shared.contracts.accounts import KillSwitchChanged
from shared.contracts.audit import AuditCheckpoint
from shared.contracts.deadletter import DeadLettered
from shared.contracts.decisions import OrderApproved
from shared.contracts.execution import DepositDetected, PriceTick
from shared.contracts.ledger import BalanceChanged
from shared.contracts.orders import OrderSpec, OrderType, PlaceOrder, Side
from shared.contracts.wallet import RecordDeposit
from shared.ids import new_id
from tests.security.system_support import connect_to, prefix_of, query
from tests.support.client import ApiUser
from tests.support.system import System
from tests.support.topics import read_topic


def unknown_version_payloads(user_id: str) -> dict[Topic, Payload]:
    """For each topic a message that would move money or state if anyone applied it."""
    order = OrderSpec(
        order_id=new_id(), symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, amount="0.01"
    )
    big = Decimal("1000000")
    return {
        Topic.ORDER_COMMANDS: PlaceOrder(order=order),
        Topic.WALLET_COMMANDS: RecordDeposit(
            deposit_id=new_id(), asset="USDT", amount=big, reference=new_id()
        ),
        Topic.SAFETY_DECISIONS: OrderApproved(
            order=order, reference_price=Decimal(1), price_band=Decimal("0.1")
        ),
        Topic.LEDGER_EVENTS: BalanceChanged(
            asset="USDT", available=big, held=Decimal(0), version=10**9
        ),
        Topic.EXECUTION_EVENTS: DepositDetected(
            venue="paper", txid=new_id(), asset="USDT", amount=big
        ),
        Topic.MARKET_PRICES: PriceTick(
            venue="paper", symbol="BTC/USDT", price=Decimal(1), sequence=10**9
        ),
        Topic.ACCOUNT_EVENTS: KillSwitchChanged(
            scope="account", target=user_id, engaged=True, reason="poison", changed_by="nobody"
        ),
        Topic.AUDIT_CHECKPOINTS: AuditCheckpoint(seq=1, hash="0" * 64),
    }


async def state_of(system: System, user: ApiUser) -> dict[str, Any]:
    """What an injected message could have changed."""
    orders = (await user.http.get("/v1/orders?limit=100")).json()["items"]
    return {
        "balances (gateway)": await user.balances(),
        "orders (gateway)": [(o["order_id"], o["status"], o["filled_amount"]) for o in orders],
        "ledger balances": await query(
            system, "ledger", "SELECT owner, asset, bucket, amount FROM balances ORDER BY 1, 2, 3"
        ),
        "ledger journal": await query(system, "ledger", "SELECT count(*) FROM journal"),
        "safety kill switches": await query(system, "safety", "SELECT * FROM kill_switches"),
        "execution orders": await query(system, "execution", "SELECT order_id FROM orders"),
    }


async def ledger_problems(system: System) -> list[str]:
    conn = await connect_to(system, "ledger")
    try:
        async with conn.transaction(isolation="repeatable_read"):
            return await check_invariants(conn)
    finally:
        await conn.close()


async def parked_by(
    system: System, injected: dict[str, list[bytes]]
) -> dict[tuple[str, bytes], set[str]]:
    """(original topic, original bytes) → the consumer groups of this system that parked it."""
    found: dict[tuple[str, bytes], set[str]] = defaultdict(set)
    for topic, values in injected.items():
        for record in await read_topic(system.env["KAFKA_BOOTSTRAP_SERVERS"], f"{topic}.dlq"):
            try:
                message = decode(record.value or b"")
            except UndecodableMessage:
                continue
            parked = message.payload
            if not isinstance(parked, DeadLettered) or parked.original_topic != topic:
                continue
            if parked.original_value() in values and parked.consumer.startswith(
                prefix_of(system) + "."
            ):
                found[(topic, parked.original_value())].add(parked.consumer)
    return dict(found)
