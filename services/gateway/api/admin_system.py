"""Administrators: every account at a glance (balances, its kill switch, and at each venue it has
a key for the ledger's last reconciliation: the venue's report and the drift per asset) and the
system as the gateway sees it (its database and broker, their addresses, the audit trail's head,
last checkpoint and last verification, each service's consumer group on the broker: up or down
and its lag in messages and seconds, and each service's outbox backlog and its oldest row's age),
for the operator console. Other services' databases are read read-only (`peer_reads`)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query

from services.gateway import peer_reads
from services.gateway.api.console_views import (
    Accounts,
    AccountView,
    AuditHead,
    AuditVerificationView,
    KillSwitchView,
    OutboxState,
    ServiceState,
    SystemView,
    VenueAssetView,
    VenueReportView,
)
from services.gateway.api.deps import Ctx, CurrentAdmin
from services.gateway.api.health import readiness
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.api.views import BalanceView
from services.gateway.domain import wire_decimal
from services.gateway.store import accounts, trail, verifications, wallet
from shared.consumer_lag import Lag, LagReader, group_members
from shared.contracts.accounts import KillSwitchScope
from shared.contracts.topics import Topic
from shared.db import Connection, connect

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=StrictJsonRoute)
AUDIT_SECONDS = 5
BROKER_SECONDS = 15
MAIN_TOPICS = [t.value for t in Topic]
SERVICES = ("gateway", "safety", "execution", "ledger", "audit")
"""Each joins the consumer group `<db_prefix>.<name>` (shared/service.py)."""


@router.get("/accounts")
async def list_accounts(
    ctx: Ctx, _: CurrentAdmin, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Accounts:
    """The newest accounts with their balances (available, held per asset, as the ledger last
    reported them) and their own kill switch, if one was ever set."""
    async with ctx.pool.acquire() as conn:
        users = await accounts.newest_accounts(conn, limit)
        balances = await wallet.balances_of_accounts(conn, [u.user_id for u in users])
        switches = {
            s.target: s
            for s in await trail.kill_switches(conn)
            if s.scope is KillSwitchScope.ACCOUNT
        }
        keyed = await accounts.exchanges_of_accounts(conn, [u.user_id for u in users])
    reports, venue_error = await venue_reports(ctx, list(keyed))
    items = []
    for user in users:
        rows = balances.get(user.user_id, [])
        switch = switches.get(user.user_id)
        items.append(
            AccountView(
                account_id=user.user_id,
                email=user.email,
                role=user.role.value,
                balances=[
                    BalanceView(
                        asset=row.asset,
                        available=wire_decimal(row.available),
                        held=wire_decimal(row.held),
                        total=wire_decimal(row.available + row.held),
                    )
                    for row in rows
                ],
                kill_switch=KillSwitchView.of(switch) if switch is not None else None,
                venues=[
                    _venue_view(venue, reports.get((user.user_id, venue)))
                    for venue in keyed.get(user.user_id, [])
                ],
            )
        )
    return Accounts(items=items, venue_error=venue_error)


async def venue_reports(
    ctx: Ctx, account_ids: list[str]
) -> tuple[dict[tuple[str, str], peer_reads.VenueReport], str | None]:
    """The ledger's reconciliation of each (account, venue), read-only; the error otherwise."""
    if not account_ids:
        return {}, None
    try:
        async with peer_reads.read_only(ctx.settings.read_database_url("ledger")) as conn:
            found = await peer_reads.venue_reports(conn, account_ids)
    except peer_reads.READ_FAILURES as exc:
        return {}, f"the ledger's database cannot be read: {type(exc).__name__}"
    return {(r.account_id, r.venue): r for r in found}, None


def _venue_view(venue: str, report: peer_reads.VenueReport | None) -> VenueReportView:
    if report is None:
        return VenueReportView(venue=venue)
    return VenueReportView(
        venue=venue,
        reported_at=report.reported_at,
        outcome=report.outcome,
        compared_at=report.compared_at,
        assets=[
            VenueAssetView(
                asset=a.asset,
                venue_total=wire_decimal(a.venue_total),
                ledger_total=wire_decimal(a.ledger_total),
                drift=wire_decimal(a.drift),
            )
            for a in report.assets
        ],
    )


@router.get("/system")
async def system_state(ctx: Ctx, _: CurrentAdmin) -> SystemView:
    checks = await readiness(ctx)
    now = ctx.clock()
    async with ctx.pool.acquire() as conn:
        engaged = sum(1 for s in await trail.kill_switches(conn) if s.engaged)
        outbox = await outbox_state(conn, now)
        verified = await verifications.last(conn)
    services, broker_error = await service_states(ctx, now)
    outboxes = await asyncio.gather(*(peer_outbox(ctx, s.name, now) for s in services))
    services = [s.model_copy(update=o) for s, o in zip(services, outboxes, strict=True)]
    audit = await audit_head(ctx.settings.audit_export_url())
    if verified is not None:
        audit.last_verification = AuditVerificationView(**asdict(verified))
    return SystemView(
        checks=checks,
        kafka_bootstrap_servers=ctx.settings.kafka_bootstrap_servers,
        database=server_address(ctx.settings.database_url),
        audit=audit,
        kill_switches_engaged=engaged,
        services=services,
        broker_error=broker_error,
        outbox=outbox,
    )


async def outbox_state(conn: Connection, now: datetime) -> OutboxState:
    row = await conn.fetchrow(
        "SELECT count(*) AS backlog, min(created_at) AS oldest FROM outbox "
        "WHERE published_at IS NULL"
    )
    assert row is not None  # an aggregate always has its row
    oldest = row["oldest"]
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return OutboxState(backlog=row["backlog"], oldest_age_seconds=age)


async def peer_outbox(ctx: Ctx, service: str, now: datetime) -> dict[str, Any]:
    """`service`'s outbox backlog and its oldest row's age, read-only from its database."""
    try:
        async with peer_reads.read_only(ctx.settings.read_database_url(service)) as conn:
            found = await peer_reads.outbox(conn)
    except peer_reads.READ_FAILURES as exc:
        return {"outbox_error": f"its database cannot be read: {type(exc).__name__}"}
    age = None if found.oldest is None else max(0.0, (now - found.oldest).total_seconds())
    return {"outbox_backlog": found.backlog, "outbox_oldest_age_seconds": age}


async def service_states(ctx: Ctx, now: datetime) -> tuple[list[ServiceState], str | None]:
    """Each service's consumer group: `up` while it has members, and its lag over the partitions
    it has committed offsets on. `unknown` for all, with the error, when the broker cannot say."""
    groups = {name: f"{ctx.settings.db_prefix}.{name}" for name in SERVICES}
    states: list[ServiceState] = []

    async def read() -> None:
        async with LagReader(ctx.settings.kafka_access) as reader:
            lags: dict[str, Lag] = {}
            for group in groups.values():
                topics = await reader.committed_topics(group, MAIN_TOPICS)
                lags[group] = await reader.lag(group, topics, now)
        found = await group_members(ctx.settings.kafka_access, list(groups.values()))
        for name, group in groups.items():
            members, lag = found[group], lags[group]
            states.append(
                ServiceState(
                    name=name,
                    consumer_group=group,
                    state="unknown" if members is None else "up" if members else "down",
                    members=members,
                    consumer_lag=lag.messages,
                    consumer_lag_seconds=lag.seconds,
                )
            )

    try:
        await asyncio.wait_for(read(), timeout=BROKER_SECONDS)
    except (KafkaError, OSError, TimeoutError) as exc:
        unknown = [
            ServiceState(name=name, consumer_group=group, state="unknown")
            for name, group in groups.items()
        ]
        return unknown, f"broker not readable: {type(exc).__name__}"
    return states, None


def server_address(url: str) -> str:
    """`host:port` of a database URL (a Unix socket's folder for a socket): never the user or
    password, never the query string."""
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port or 5432}"
    return "local socket"


async def audit_head(url: str) -> AuditHead:
    """The trail's last row and last checkpoint; `readable: false` with the error otherwise."""
    try:
        async with asyncio.timeout(AUDIT_SECONDS):
            conn = await connect(url)
            try:
                head = await conn.fetchrow(
                    "SELECT seq, occurred_at FROM audit_trail ORDER BY seq DESC LIMIT 1"
                )
                checkpoint = await conn.fetchrow(
                    "SELECT seq, hash, taken_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
                )
            finally:
                await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return AuditHead(readable=False, error=type(exc).__name__)
    return AuditHead(
        readable=True,
        head_seq=head["seq"] if head else None,
        head_at=head["occurred_at"] if head else None,
        checkpoint_seq=checkpoint["seq"] if checkpoint else None,
        checkpoint_hash=checkpoint["hash"] if checkpoint else None,
        checkpoint_at=checkpoint["taken_at"] if checkpoint else None,
    )
