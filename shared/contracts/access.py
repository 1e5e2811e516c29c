"""Which service writes and which reads each topic: the ownership the broker's ACLs enforce.

A topic has one owner or a few named writers (`accounts.events.v1` carries the gateway's user
activity and safety's kill switches); every other service only reads it. A consumer writes the
dead-letter twin of each topic it consumes (a message it cannot apply is parked there). The
broker's principals are the service names. Each service's consumer subscribes to
`readable_by(service)`, and `cryptoorch up`, `deploy/` and the ACL test read this table: a new
topic or a new consumer is declared here once. So are the message types each consumer acts on
(`ACTS_ON`): its inbox skips the others without decoding them (`acts_on(service)`).
"""

from __future__ import annotations

from shared.contracts.accounts import (
    ExchangeKeyAdded,
    KillSwitchChanged,
    UserRegistered,
)
from shared.contracts.decisions import OrderApproved, WithdrawalApproved
from shared.contracts.envelope import Payload
from shared.contracts.execution import (
    DepositDetected,
    ExchangeKeyValidated,
    MarketsListed,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    PriceTick,
    VenueBalancesReported,
    WithdrawalFailed,
    WithdrawalSent,
)
from shared.contracts.ledger import BalanceDiscrepancyDetected, FundsHeld, FundsHoldRejected
from shared.contracts.orders import CancelAllAfterArmed, CancelOrder, PlaceOrder
from shared.contracts.restrictions import RestrictionChanged
from shared.contracts.topics import Topic, dead_letter_topic
from shared.contracts.wallet import RecordDeposit, RequestWithdrawal

SERVICES = ("gateway", "safety", "execution", "ledger", "audit")

PRODUCES: dict[str, tuple[Topic, ...]] = {
    "gateway": (Topic.ORDER_COMMANDS, Topic.WALLET_COMMANDS, Topic.ACCOUNT_EVENTS),
    "safety": (Topic.SAFETY_DECISIONS, Topic.ACCOUNT_EVENTS),
    "ledger": (Topic.LEDGER_EVENTS,),
    "execution": (Topic.EXECUTION_EVENTS, Topic.MARKET_PRICES),
    "audit": (Topic.AUDIT_CHECKPOINTS,),
}
"""The main topics each service's outbox publishes to."""

CONSUMES: dict[str, tuple[Topic, ...]] = {
    "gateway": (
        Topic.SAFETY_DECISIONS,
        Topic.LEDGER_EVENTS,
        Topic.EXECUTION_EVENTS,
        Topic.ACCOUNT_EVENTS,
        Topic.AUDIT_CHECKPOINTS,
    ),
    "safety": (
        Topic.ORDER_COMMANDS,
        Topic.WALLET_COMMANDS,
        Topic.MARKET_PRICES,
        Topic.EXECUTION_EVENTS,
        Topic.ACCOUNT_EVENTS,
        Topic.LEDGER_EVENTS,
    ),
    "ledger": (Topic.WALLET_COMMANDS, Topic.SAFETY_DECISIONS, Topic.EXECUTION_EVENTS),
    "execution": (Topic.LEDGER_EVENTS, Topic.ORDER_COMMANDS, Topic.ACCOUNT_EVENTS),
    "audit": tuple(Topic),
}
"""The main topics each service's consumer group reads."""

ACTS_ON: dict[str, tuple[type[Payload], ...] | None] = {
    "gateway": None,  # its read models add any message of an order it follows to the trail
    "safety": (
        PlaceOrder,
        RequestWithdrawal,
        PriceTick,
        MarketsListed,
        UserRegistered,
        KillSwitchChanged,
        RestrictionChanged,
        OrderFilled,
        OrderFailed,
        OrderCancelled,
        ExchangeKeyValidated,
        FundsHoldRejected,
        BalanceDiscrepancyDetected,
    ),
    "ledger": (
        VenueBalancesReported,
        RecordDeposit,
        DepositDetected,
        OrderApproved,
        WithdrawalApproved,
        OrderFilled,
        OrderCancelled,
        OrderFailed,
        WithdrawalSent,
        WithdrawalFailed,
    ),
    "execution": (FundsHeld, CancelOrder, ExchangeKeyAdded, KillSwitchChanged, CancelAllAfterArmed),
    "audit": None,  # the trail holds every message
}
"""The message types each service's handler acts on, of the topics it reads (None: every type).
Its inbox skips the others undecoded, with no inbox row; a message of a type a consumer acts on
that it cannot decode is dead-lettered by that consumer (and always by the audit's)."""

READS_DEAD_LETTERS = ("audit", "gateway")
"""Who also reads every `.dlq` topic: audit's trail, and the console's Dead letters view (the
gateway reads them with a consumer in no group)."""


def writable_by(service: str) -> list[str]:
    """Every topic `service` may produce to: its own, and the dead-letter twins of what it reads."""
    own = [topic.value for topic in PRODUCES[service]]
    return own + [dead_letter_topic(topic.value) for topic in CONSUMES[service]]


def readable_by(service: str) -> list[str]:
    """Every topic `service` may consume."""
    read = [topic.value for topic in CONSUMES[service]]
    if service in READS_DEAD_LETTERS:
        read += [topic.dlq for topic in Topic]
    return read


def acts_on(service: str) -> frozenset[str] | None:
    """The message types `service`'s consumer acts on (`ACTS_ON`); None: every type."""
    kinds = ACTS_ON[service]
    return None if kinds is None else frozenset(kind.TYPE for kind in kinds)


def redriver_of(topic: str, parked_by: str) -> str:
    """Whose outbox re-drives a message parked by `parked_by` back onto `topic`: a service
    that may write it (`parked_by` itself if it may, else the topic's first writer); a topic
    outside the contract (a test's own) goes back through `parked_by`."""
    if topic in writable_by(parked_by):
        return parked_by
    writers = [service for service, topics in PRODUCES.items() if topic in topics]
    return writers[0] if writers else parked_by
