"""Response bodies of the operator console and the admin endpoints (documented in the OpenAPI
schema): orders across accounts and their timeline, kill switches, restrictions, venue
drift, the audit chain's state, the system view, dead letters. Money is a decimal string."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.gateway.api.views import BalanceView, OrderView
from services.gateway.store.orders import OrderRow
from services.gateway.store.trail import KillSwitch
from shared.contracts.accounts import KillSwitchMode, KillSwitchScope
from shared.contracts.restrictions import RestrictionScope
from shared.dlq import DeadLetter


class AdminOrderView(OrderView):
    """An order as the operator sees it: with the account it belongs to."""

    account_id: str

    @classmethod
    def of(cls, row: OrderRow) -> AdminOrderView:
        return cls(**OrderView.of(row).model_dump(), account_id=row.user_id)


class AdminOrders(BaseModel):
    items: list[AdminOrderView]


class TimelineEntry(BaseModel):
    """One message of an order, as `cryptoorch trace` prints it."""

    seq: int
    depth: int
    occurred_at: str | None
    topic: str
    producer: str
    type: str
    event_id: str
    causation_id: str | None
    decision: str | None
    reason: str | None
    detail: str | None
    venue_order_id: str | None = None
    sends: int | None = None
    """How many times execution had sent the order to a network venue (None: paper)."""


class Timeline(BaseModel):
    order_id: str
    items: list[TimelineEntry]
    venue_order_id: str | None = None
    """The venue's id of the order, once the venue has it."""
    sends: int | None = None
    """How many times execution sent a real-money order to its venue (None: paper)."""
    outcome_unknown: bool = False
    """Execution does not know yet whether the venue has the order and is reconciling (looking
    it up by client order id, never sending it again meanwhile); the order shows `submitted`."""


class ConsoleSession(BaseModel):
    user_id: str
    expires_at: datetime | None


class KillSwitchView(BaseModel):
    scope: KillSwitchScope
    target: str | None
    engaged: bool
    mode: KillSwitchMode
    reason: str
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, switch: KillSwitch) -> KillSwitchView:
        return cls(
            scope=switch.scope,
            target=switch.target,
            engaged=switch.engaged,
            mode=switch.mode,
            reason=switch.reason,
            changed_by=switch.changed_by,
            changed_at=switch.changed_at,
        )


class KillSwitches(BaseModel):
    items: list[KillSwitchView]


class RestrictionView(BaseModel):
    scope: RestrictionScope
    target: str
    restricted: bool
    reason: str
    changed_by: str
    changed_at: datetime


class Restrictions(BaseModel):
    items: list[RestrictionView]
    """The restrictions in force (a lifted one is not listed)."""


class VenueAssetView(BaseModel):
    asset: str
    venue_total: str
    """What the venue reported the account holds (free + used)."""
    ledger_total: str
    """What the ledger held of it at that venue (available + held) when it compared the report."""
    drift: str
    """`venue_total - ledger_total`: negative when the venue holds less than the ledger says."""


class VenueReportView(BaseModel):
    """An account at a venue it has a key for, as the ledger last reconciled it."""

    venue: str
    reported_at: datetime | None = None
    """When the venue's last balance report was taken (None: no report yet)."""
    outcome: str | None = None
    """How the ledger took it: `agreed`, `disagreed` (not confirmed yet), `discrepancy`
    (confirmed: safety halts the account), or `skipped_open_hold` (not comparable)."""
    compared_at: datetime | None = None
    """When the report the drift below comes from was taken."""
    assets: list[VenueAssetView] = []


class AccountView(BaseModel):
    account_id: str
    email: str
    role: str
    balances: list[BalanceView]
    kill_switch: KillSwitchView | None
    """The account's own switch (engaged or released), if one was ever set."""
    venues: list[VenueReportView] = []
    """One per venue the account has a key for (none for a paper-only account)."""


class Accounts(BaseModel):
    items: list[AccountView]
    venue_error: str | None = None
    """Why the venue reports could not be read from the ledger (None: they were)."""


class AuditVerificationView(BaseModel):
    """A verification of the whole chain, as `cryptoorch audit verify` does it, against the
    checkpoints stored beside the trail."""

    verified_at: datetime
    verified_by: str
    ok: bool
    rows_checked: int
    checkpoints_checked: int
    last_seq: int
    first_bad_seq: int | None = None
    """The first row that is wrong (or, for rows cut off the end, the first one missing)."""
    problem: str | None = None
    detail: str | None = None


class AuditHead(BaseModel):
    """The audit trail as the gateway can read it (read-only, like the export)."""

    readable: bool
    head_seq: int | None = None
    head_at: datetime | None = None
    checkpoint_seq: int | None = None
    checkpoint_hash: str | None = None
    checkpoint_at: datetime | None = None
    error: str | None = None
    last_verification: AuditVerificationView | None = None
    """The newest verification run from the console (None: never)."""


class ServiceState(BaseModel):
    """A service as the broker sees it: its consumer group's members and lag."""

    name: str
    consumer_group: str
    state: Literal["up", "down", "unknown"]
    """`up` while its consumer group has members; `unknown` when the broker cannot say."""
    members: int | None = None
    consumer_lag: int | None = None
    """Messages its group has not consumed yet (None: unknown)."""
    consumer_lag_seconds: float | None = None
    """Age of the oldest of them (0 when caught up)."""
    outbox_backlog: int | None = None
    """Rows in its outbox not yet published (None: its database could not be read)."""
    outbox_oldest_age_seconds: float | None = None
    """Age of the oldest of them (None: none waits, or unknown)."""
    outbox_error: str | None = None


class OutboxState(BaseModel):
    """The gateway's own outbox: rows not yet published, and the oldest one's age."""

    backlog: int
    oldest_age_seconds: float | None = None


class SystemView(BaseModel):
    checks: dict[str, str]
    """The gateway's own readiness: its database and the broker, `ok` or `unreachable`."""
    kafka_bootstrap_servers: str
    database: str
    """The database server the services use (host, port; never credentials)."""
    audit: AuditHead
    kill_switches_engaged: int
    services: list[ServiceState] = []
    broker_error: str | None = None
    outbox: OutboxState | None = None


class DeadLetterView(DeadLetter):
    """A parked message: where it sits, which consumer parked it and why, and the original
    message and headers with every secret replaced by "[REDACTED]"."""

    redrives: int
    """How many times the message was re-driven from the console already."""

    @classmethod
    def of(cls, letter: DeadLetter, redrives: int) -> DeadLetterView:
        return cls(**dict(letter), redrives=redrives)


class DeadLetterTopic(BaseModel):
    topic: str
    items: list[DeadLetterView]


class DeadLetters(BaseModel):
    max_redrives: int
    topics: list[DeadLetterTopic]


class RedriveOutcome(BaseModel):
    id: str
    original_event_id: str
    redrives: int | None = None
    refused: str | None = None


class Redriven(BaseModel):
    redriven: list[RedriveOutcome]
    refused: list[RedriveOutcome]
