"""A client nobody here wrote reads our topics.

librdkafka (`confluent-kafka`), not aiokafka, and none of our decoding code: a stranger
with only the published contract (docs/asyncapi.yaml and docs/schemas/) reads every topic
from the beginning after a small but complete flow through the five real services, and
checks every message's value against the channel's JSON Schema, its key against the
contract (the envelope's `account_id`) and its W3C `traceparent` header.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from shared.contracts import Topic, all_topics
from tests.support.client import ApiUser, funded_user
from tests.support.load import TOTP_STEP, Trader
from tests.support.system import System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
DOCS = Path(__file__).resolve().parents[2] / "docs"
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
TERMINAL = {"filled", "rejected", "cancelled", "failed"}
READ_TIMEOUT = 60.0

MUST_SEE = {
    "RecordDeposit",  # the deposit
    "PlaceOrder",
    "OrderApproved",
    "FundsHeld",
    "OrderSubmitted",
    "OrderFilled",
    "HoldSettled",  # the market buy filled
    "FundsHoldRejected",  # the buy the books could not hold
    "OrderRejected",  # the limit safety refused
    "CancelOrder",
    "OrderCancelled",
    "HoldReleased",  # the resting limit cancelled
    "RequestWithdrawal",
    "WithdrawalApproved",
    "WithdrawalSent",  # the withdrawal
    "BalanceChanged",
    "UserRegistered",
    "TwoFactorEnabled",
    "DeadLettered",  # what the stranger itself wrote, and no service could apply
}
"""Message types the flow below must put on the topics (the reader checks all it finds)."""


class Contract:
    """What a stranger knows: the AsyncAPI channels and the JSON Schemas they point to."""

    def __init__(self, docs: Path) -> None:
        document = yaml.safe_load((docs / "asyncapi.yaml").read_text())
        self.channels: dict[str, dict[str, Draft202012Validator]] = {}
        for channel in document["channels"].values():
            self.channels[channel["address"]] = {
                name: self._validator(docs / ref["$ref"])
                for name, ref in channel["messages"].items()
            }

    @staticmethod
    def _validator(path: Path) -> Draft202012Validator:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def problems(self, topic: str, value: Any) -> list[str]:
        if topic not in self.channels:
            return [f"no channel {topic} in docs/asyncapi.yaml"]
        if not isinstance(value, dict):
            return ["value is not a JSON object"]
        name = f"{value.get('type')}.v{value.get('version')}"
        validator = self.channels[topic].get(name)
        if validator is None:
            return [f"{name} is not a message of channel {topic}"]
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)
        ]


@dataclass
class Reading:
    """What the reader saw, and everything wrong with it."""

    types: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    keys_by_correlation: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    messages: int = 0
    dead_letters: list[tuple[str, str]] = field(default_factory=list)
    """(the parked message's original bytes, the dead letter's traceparent)."""

    def traced_dead_letters(self, junk: dict[bytes, str | None]) -> bool:
        """Every piece of junk dead-lettered at least once."""
        seen = {base64.b64decode(original) for original, _ in self.dead_letters}
        return set(junk) <= seen


def headers_of(message: Message) -> list[tuple[str, str]]:
    """librdkafka gives a consumed message's headers as (name, bytes) pairs, or None."""
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [
        (name, value.decode(errors="replace") if isinstance(value, bytes) else str(value or ""))
        for name, value in pairs
    ]


def check(contract: Contract, message: Message, reading: Reading, junk: set[bytes]) -> None:
    """One message against the contract; what the reader wrote itself is only counted."""
    topic = message.topic() or ""
    where = f"{topic}[{message.partition()}]@{message.offset()}"
    reading.messages += 1
    reading.by_topic[topic] += 1
    raw = message.value() or b""
    if raw in junk:
        reading.types["(our junk)"] += 1
        return
    try:
        value = json.loads(raw)
    except ValueError as exc:
        reading.problems.append(f"{where}: not JSON ({exc}): {raw[:200]!r}")
        return
    reading.problems.extend(
        f"{where} {value.get('type')}: {p}" for p in contract.problems(topic, value)
    )
    reading.types[str(value.get("type"))] += 1
    key = (message.key() or b"").decode(errors="replace")
    if key != value.get("account_id"):
        reading.problems.append(
            f"{where} {value.get('type')}: key {key!r} is not the account_id "
            f"{value.get('account_id')!r}"
        )
    reading.keys_by_correlation.setdefault(str(value.get("correlation_id")), set()).add(key)
    headers = headers_of(message)
    traceparents = [v for k, v in headers if k == "traceparent"]
    if len(traceparents) != 1:
        reading.problems.append(
            f"{where} {value.get('type')}: {len(traceparents)} traceparent headers "
            f"(headers: {[k for k, _ in headers]})"
        )
        return
    traceparent = traceparents[0]
    _, trace_id, parent_id, _ = [*traceparent.split("-"), "", "", "", ""][:4]
    if not TRACEPARENT.match(traceparent) or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        reading.problems.append(f"{where} {value.get('type')}: invalid traceparent {traceparent!r}")
    if value.get("type") == "DeadLettered":
        reading.dead_letters.append((value["payload"]["original_value_b64"], traceparent))


def read_everything(
    bootstrap: str,
    topics: list[str],
    contract: Contract,
    junk: set[bytes],
    done: Callable[[Reading], bool],
) -> Reading:
    """Every partition of `topics`, from the beginning, in a fresh consumer group, up to the
    ends seen once the flow was over, and until `done`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"foreign-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    reading = Reading()
    try:
        metadata = consumer.list_topics(timeout=10)
        missing = [t for t in topics if t not in metadata.topics]
        assert not missing, f"topics of the contract missing on the broker: {missing}"
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                if high > 0:
                    ends[(topic, partition)] = high
        consumer.subscribe(topics)
        deadline = time.monotonic() + READ_TIMEOUT
        behind = dict(ends)
        while behind or not done(reading):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {READ_TIMEOUT}s: still behind on {sorted(behind)}, "
                    f"not seen {sorted(MUST_SEE - set(reading.types))}; saw {dict(reading.types)}"
                )
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                continue
            check(contract, message, reading, junk)
            place = (message.topic(), message.partition())
            if place in behind and (message.offset() or 0) + 1 >= behind[place]:
                del behind[place]
        return reading
    finally:
        consumer.close()


def write_junk(bootstrap: str, key: str, junk: dict[bytes, str | None]) -> None:
    """What a stranger's buggy producer might write to our commands topic: each services
    that reads it parks it on the dead-letter topic."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value, traceparent in junk.items():
        producer.produce(
            Topic.ORDER_COMMANDS.value,
            value=value,
            key=key,
            headers={"traceparent": traceparent} if traceparent else None,
        )
    assert producer.flush(30) == 0, "the junk was not acknowledged"


async def terminal(user: ApiUser, order_id: str) -> dict[str, Any]:
    return await eventually(
        lambda: user.order(order_id),
        until=lambda o: o["status"] in TERMINAL,
        timeout=60,
        what=f"order {order_id} terminal",
    )


@pytest.mark.expects_dead_letters(b"not an envelope, traced", b"not an envelope, untraced")
async def test_a_librdkafka_client_reads_every_topic_against_the_published_contract(
    system: System,
) -> None:
    async with funded_user(system) as funded:
        alice = funded.user
        enrolled = await alice.http.post("/v1/auth/2fa/enroll")
        assert enrolled.status_code == 200, enrolled.text
        step = int(time.time()) // TOTP_STEP
        trader = Trader(alice, pyotp.TOTP(enrolled.json()["secret"]), last_step=step)
        confirmed = await alice.http.post(
            "/v1/auth/2fa/confirm", json={"code": trader.totp.at(step * TOTP_STEP)}
        )
        assert confirmed.status_code == 200, confirmed.text

        flow_ids = {funded.deposit_id}

        market = await alice.place_order(
            symbol="BTC/USDT", side="buy", type="market", amount="0.01"
        )
        assert market.status_code == 202, market.text
        filled = await terminal(alice, market.json()["order_id"])
        assert filled["status"] == "filled", filled
        price = Decimal(filled["average_price"])

        too_big = await alice.place_order(symbol="BTC/USDT", side="buy", type="market", amount="1")
        out_of_band = await alice.place_order(
            symbol="BTC/USDT",
            side="buy",
            type="limit",
            amount="0.01",
            price=str((price * Decimal("0.5")).quantize(Decimal("0.01"))),
        )
        resting = await alice.place_order(
            symbol="BTC/USDT",
            side="buy",
            type="limit",
            amount="0.01",
            price=str((price * Decimal("0.93")).quantize(Decimal("0.01"))),
        )
        for answer in (too_big, out_of_band, resting):
            assert answer.status_code == 202, answer.text
        refused = await terminal(alice, too_big.json()["order_id"])
        assert (refused["status"], refused["reject_reason"]) == ("rejected", "INSUFFICIENT_FUNDS")
        refused = await terminal(alice, out_of_band.json()["order_id"])
        assert (refused["status"], refused["reject_reason"]) == ("rejected", "PRICE_OUT_OF_BAND")
        resting_id = resting.json()["order_id"]
        await eventually(
            lambda: alice.order(resting_id),
            until=lambda o: o["status"] == "submitted",
            what="limit order resting at the venue",
        )
        cancel = await alice.http.post(
            f"/v1/orders/{resting_id}/cancel", headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert cancel.status_code == 202, cancel.text
        assert (await terminal(alice, resting_id))["status"] == "cancelled"

        code = trader.next_code()
        assert code is not None
        withdrawal = await alice.http.post(
            "/v1/withdrawals",
            json={"asset": "USDT", "amount": "100", "address": "foreign-reader-wallet"},
            headers={"Idempotency-Key": str(uuid.uuid4()), "X-TOTP-Code": code},
        )
        assert withdrawal.status_code == 202, withdrawal.text
        withdrawal_id = withdrawal.json()["withdrawal_id"]

        async def withdrawal_status() -> dict[str, Any]:
            response = await alice.http.get(f"/v1/withdrawals/{withdrawal_id}")
            assert response.status_code == 200, response.text
            data: dict[str, Any] = response.json()
            return data

        sent = await eventually(
            withdrawal_status,
            until=lambda w: w["status"] in {"sent", "rejected", "failed"},
            timeout=60,
            what="withdrawal final",
        )
        assert sent["status"] == "sent", sent
        flow_ids |= {
            market.json()["order_id"],
            too_big.json()["order_id"],
            out_of_band.json()["order_id"],
            resting_id,
            withdrawal_id,
        }

        bootstrap = system.env["KAFKA_BOOTSTRAP_SERVERS"]
        junk = {
            b"not an envelope, traced": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            b"not an envelope, untraced": None,
        }
        await asyncio.to_thread(write_junk, bootstrap, alice.user_id, junk)

        reading = await asyncio.to_thread(
            read_everything,
            bootstrap,
            all_topics(),
            Contract(DOCS),
            set(junk),
            lambda r: MUST_SEE <= set(r.types) and r.traced_dead_letters(junk),
        )

    print(f"foreign reader: {reading.messages} messages, {dict(reading.by_topic)}")
    assert not reading.problems, (
        f"{len(reading.problems)} of {reading.messages} messages break the contract:\n"
        + "\n".join(reading.problems[:200])
    )
    assert MUST_SEE <= set(reading.types), sorted(MUST_SEE - set(reading.types))
    for original, traceparent in reading.dead_letters:
        if sent_with := junk.get(base64.b64decode(original)):
            assert traceparent.split("-")[1] == sent_with.split("-")[1], (
                "a dead letter left the trace of the message it parks",
                sent_with,
                traceparent,
            )
    for correlation_id in flow_ids:
        assert reading.keys_by_correlation.get(correlation_id) == {alice.user_id}, (
            correlation_id,
            reading.keys_by_correlation.get(correlation_id),
        )
