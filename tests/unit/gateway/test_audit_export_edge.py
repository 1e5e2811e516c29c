"""`GET /v1/admin/audit/export` at the edge, without a database: who may call it, which ranges
are refused before anything is read, and a trail it cannot read is a 503, never a short export."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway import NAME
from services.gateway.app import create_app
from services.gateway.auth import Role
from services.gateway.settings import GatewaySettings
from shared.emitter import Emitter
from tests.support.no_database import UntouchablePool
from tests.unit.gateway.test_http_contract import (
    JWT_SECRET,
    NOW,
    assert_problem,
    bearer,
    no_broker,
)

PATH = "/v1/admin/audit/export"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/no_audit"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(jwt_secret=JWT_SECRET, audit_database_url=UNREACHABLE)
    app = create_app(
        UntouchablePool(),
        settings,
        broker_ready=no_broker,
        emitter=Emitter(NAME, clock=lambda: NOW),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


async def test_only_an_admin_may_export(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(PATH), 401, "unauthorized")
    assert_problem(await client.get(PATH, headers=bearer(Role.USER)), 403, "forbidden")


@pytest.mark.parametrize(
    "query",
    ["from_seq=0", "to_seq=0", "from_seq=-3", "from_seq=5&to_seq=4", "from_seq=x", "to_seq=1.5"],
)
async def test_a_range_that_names_no_rows_is_422(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"{PATH}?{query}", headers=bearer(Role.ADMIN))

    assert_problem(response, 422, "validation_error")


async def test_an_unreadable_trail_is_503_not_an_empty_export(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH, headers=bearer(Role.ADMIN))

    assert_problem(response, 503, "audit_unavailable")
