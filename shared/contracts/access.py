"""Which service writes and which reads each topic: the ownership the broker's ACLs enforce.

A topic has one owner or a few named writers (`accounts.events.v1` carries the gateway's user
activity and safety's kill switches); every other service only reads it. A consumer writes the
dead-letter twin of each topic it consumes (a message it cannot apply is parked there). The
broker's principals are the service names. Each service's consumer subscribes to
`readable_by(service)`, and `cryptoorch up`, `deploy/` and the ACL test read this table: a new
topic or a new consumer is declared here once.
"""

from __future__ import annotations

from shared.contracts.topics import Topic, dead_letter_topic

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


def redriver_of(topic: str, parked_by: str) -> str:
    """Whose outbox re-drives a message parked by `parked_by` back onto `topic`: a service
    that may write it (`parked_by` itself if it may, else the topic's first writer); a topic
    outside the contract (a test's own) goes back through `parked_by`."""
    if topic in writable_by(parked_by):
        return parked_by
    writers = [service for service, topics in PRODUCES.items() if topic in topics]
    return writers[0] if writers else parked_by
