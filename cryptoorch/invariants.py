"""The invariants `cryptoorch check` proves, as pure functions of a `Snapshot` of the five
databases (gathered by `cryptoorch.check`): every request ended, one venue order per order,
the ledger's leftovers, balances recomputed from what the ledger did not write, the audit
trail, and the outboxes. No I/O here, so each rule can be tested on a hand-made snapshot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from cryptoorch.check_venues import Row
from services.execution.domain.orders import client_order_id
from shared.money import multiply, quantize_down, quantize_up

ORDER_TERMINAL = ("filled", "rejected", "cancelled", "failed")
WITHDRAWAL_TERMINAL = ("sent", "rejected", "failed")
Key = tuple[str, str]
"""(user, asset)"""


@dataclass(frozen=True)
class DeadLetter:
    service: str
    dead_letter_id: str
    original_topic: str
    original_event_id: str | None
    error: str
    expected: bool
    redriven: bool


@dataclass
class Snapshot:
    """What the checks read, gathered from the five databases."""

    db: dict[str, list[Row]] = field(default_factory=dict)
    ledger_problems: list[str] = field(default_factory=list)
    emitted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """correlation id → event ids of every non-dead-letter outbox row of every service"""
    audited: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stuck: dict[str, asyncpg.Record] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    chain_problem: str | None = None


def find_violations(snap: Snapshot) -> list[str]:
    """Every broken promise in `snap`, one line each, most basic first."""
    return [
        *_requests_ended(snap),
        *_venue_orders(snap),
        *(f"ledger: {problem}" for problem in snap.ledger_problems),
        *_ledger_leftovers(snap),
        *_balances(snap),
        *_audit(snap),
        *_outboxes(snap),
    ]


def _requests_ended(snap: Snapshot) -> list[str]:
    found = [
        f"order {r['order_id']} of {r['user_id']} is still {r['status']!r}"
        for r in snap.db["orders"]
        if r["status"] not in ORDER_TERMINAL
    ]
    found += [
        f"withdrawal {r['withdrawal_id']} of {r['user_id']} is still {r['status']!r}"
        for r in snap.db["withdrawals"]
        if r["status"] not in WITHDRAWAL_TERMINAL
    ]
    return found + _deposits_ended(snap)


def _deposits_ended(snap: Snapshot) -> list[str]:
    """Each deposit credited by the ledger (its reference in the journal) or rejected with a
    reason (terminal: nothing booked); one the ledger neither booked nor refused is lost."""
    credited = {r["subreference"] for r in snap.db["credited_deposits"]}
    found: list[str] = []
    for r in snap.db["deposits"]:
        what = f"deposit {r['deposit_id']} ({_d(r['amount'])} {r['asset']} for {r['user_id']})"
        booked = r["reference"] in credited
        status = r.get("status", "requested")
        if status == "rejected" and booked:
            found.append(f"{what} is rejected ({r.get('reject_reason')}) but the ledger booked it")
        elif status == "rejected" and not r.get("reject_reason"):
            found.append(f"{what} is rejected without a reason")
        elif status != "rejected" and not booked:
            found.append(f"{what} is {status!r}: the ledger neither credited nor rejected it")
    return found


def _venue_orders(snap: Snapshot) -> list[str]:
    """One venue order per order, each placed for an order a user asked for; trades reported."""
    order_of = {client_order_id(r["order_id"]): r["order_id"] for r in snap.db["orders"]}
    found = [
        f"execution knows order {r['order_id']} as {r['client_order_id']}, not by the client "
        "order id derived from it: a retry could place it twice"
        if r["order_id"] in order_of.values()
        else f"execution placed order {r['order_id']}, which no user placed"
        for r in snap.db["execution_orders"]
        if order_of.get(r["client_order_id"]) != r["order_id"]
    ]
    at_venue = Counter(r["client_order_id"] for r in snap.db["venue_orders"])
    for r in snap.db["venue_orders"]:
        order_id = order_of.get(r["client_order_id"])
        if order_id is None:
            found.append(
                f"venue order {r['venue_order_id']} ({r['client_order_id']}, {r['side']} "
                f"{r['symbol']}) belongs to no accepted order: a second venue order?"
            )
        elif at_venue[r["client_order_id"]] > 1:
            found.append(
                f"order {order_id} exists {at_venue[r['client_order_id']]} times at the venue"
            )
        if r["status"] == "open":
            found.append(f"venue order {r['venue_order_id']} of order {order_id} is still open")
    reported = {(r["venue"], r["trade_id"]) for r in snap.db["reported_fills"]}
    traded: dict[str, Decimal] = defaultdict(Decimal)
    for t in snap.db["venue_trades"]:
        traded[order_of.get(t["client_order_id"]) or t["client_order_id"]] += t["amount"]
        if (t["venue"], t["trade_id"]) not in reported:
            found.append(f"venue trade {t['trade_id']} was never reported as OrderFilled")
    for r in snap.db["orders"]:
        done = traded.get(r["order_id"], Decimal(0))
        if r["filled_amount"] != done or (r["status"] == "filled") != (done == r["amount"]):
            found.append(
                f"order {r['order_id']} is {r['status']!r} with {_d(r['filled_amount'])} of "
                f"{_d(r['amount'])} filled; the venue traded {_d(done)}"
            )
        if r["status"] == "rejected" and at_venue[client_order_id(r["order_id"])]:
            found.append(f"order {r['order_id']} was rejected but placed at the venue")
    sent = {r["withdrawal_id"]: r for r in snap.db["venue_withdrawals"]}
    for w in snap.db["withdrawals"]:
        at = sent.pop(w["withdrawal_id"], None)
        if (w["status"] == "sent") != (at is not None) or (at and at["amount"] != w["amount"]):
            venue = f"{_d(at['amount'])} {at['asset']}" if at else "nothing"
            found.append(
                f"withdrawal {w['withdrawal_id']} is {w['status']!r}; the venue sent {venue}"
            )
    found += [f"the venue sent withdrawal {w} that nobody requested" for w in sent]
    return found


def _ledger_leftovers(snap: Snapshot) -> list[str]:
    found = [
        f"ledger: hold {r['hold_id']} of {r['account_id']} still holds {_d(r['remaining'])} "
        f"{r['asset']} after everything ended"
        for r in snap.db["open_holds"]
    ]
    found += [
        f"ledger: discrepancy on {r['account_id']} ({r['hold_id']}): {_d(r['amount'])} "
        f"{r['asset']}: {r['detail']}"
        for r in snap.db["discrepancies"]
    ]
    return found


def recompute_balances(snap: Snapshot) -> dict[Key, Decimal]:
    """Each user's total per asset from deposits, venue withdrawals and venue trades alone."""
    total: dict[Key, Decimal] = defaultdict(Decimal)
    for r in snap.db["deposits"]:
        if r.get("status") != "rejected":  # a rejected deposit moved nothing
            total[r["user_id"], r["asset"]] += r["amount"]
    owner_of_withdrawal = {r["withdrawal_id"]: r["user_id"] for r in snap.db["withdrawals"]}
    for r in snap.db["venue_withdrawals"]:
        total[owner_of_withdrawal.get(r["withdrawal_id"], "?"), r["asset"]] -= r["amount"]
    owner = {client_order_id(r["order_id"]): r["user_id"] for r in snap.db["orders"]}
    venue_order = {r["client_order_id"]: r for r in snap.db["venue_orders"]}
    for t in snap.db["venue_trades"]:
        order = venue_order[t["client_order_id"]]
        user = owner.get(t["client_order_id"], "?")
        base, quote = order["symbol"].split("/")
        gross = multiply(t["amount"], t["price"])
        sign = 1 if order["side"] == "buy" else -1
        total[user, base] += sign * t["amount"]
        total[user, quote] -= quantize_up(gross) if sign > 0 else -quantize_down(gross)
        total[user, t["fee_asset"]] -= t["fee"]
    return dict(total)


def _balances(snap: Snapshot) -> list[str]:
    zero = Decimal(0)
    expected = recompute_balances(snap)
    booked: dict[Key, tuple[Decimal, Decimal]] = {
        (r["owner"], r["asset"]): (r["total"], r["held"] or zero)
        for r in snap.db["ledger_balances"]
    }
    found: list[str] = []
    for key in sorted(set(expected) | set(booked)):
        want, (have, _) = expected.get(key, zero), booked.get(key, (zero, zero))
        if want != have:
            found.append(
                f"balance of {key[0]} in {key[1]}: the ledger has {_d(have)}, "
                f"deposits, withdrawals and trades give {_d(want)}"
            )
    for r in snap.db["shown_balances"]:
        total, held = booked.get((r["user_id"], r["asset"]), (zero, zero))
        if (r["available"], r["held"]) != (total - held, held):
            found.append(
                f"gateway shows {r['user_id']} {_d(r['available'])}/{_d(r['held'])} {r['asset']} "
                f"(available/held); the ledger has {_d(total - held)}/{_d(held)}"
            )
    return found


def _audit(snap: Snapshot) -> list[str]:
    found: list[str] = []
    for correlation in sorted(set(snap.emitted) | set(snap.audited)):
        emitted = snap.emitted.get(correlation, set())
        audited = snap.audited.get(correlation, Counter())
        missing = sorted(emitted - set(audited))
        if missing:
            found.append(
                f"audit: {len(missing)} message(s) of {correlation} not in the trail: "
                + ", ".join(missing[:3])
            )
        found += [
            f"audit: message {event_id} of {correlation} is in the trail {times} times"
            for event_id, times in audited.items()
            if times > 1
        ]
        unexplained = sorted(set(audited) - emitted)
        if unexplained:
            found.append(
                f"audit: {len(unexplained)} message(s) of {correlation} in the trail that no "
                "service emitted: " + ", ".join(unexplained[:3])
            )
    if snap.chain_problem:
        found.append(f"audit: the chain does not verify: {snap.chain_problem}")
    return found


def _outboxes(snap: Snapshot) -> list[str]:
    found = [
        f"{service}: {row['n']} message(s) unpublished after the drain "
        f"(first id {row['first_id']}, {row['topic']})"
        for service, row in snap.stuck.items()
    ]
    found += [
        f"{d.service}: dead letter {d.dead_letter_id} from {d.original_topic} "
        f"(message {d.original_event_id}): {d.error[:200]}"
        for d in snap.dead_letters
        if not d.expected and not d.redriven
    ]
    return found


def _d(value: Decimal) -> str:
    """A decimal as people write it: no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
