"""`X-Forwarded-For` is believed only from the proxies in CRYPTOORCH_GATEWAY_TRUSTED_PROXIES,
and then its right-most hop that is not a trusted proxy is the client's address (API.md,
"Throttles on sign-in and 2FA"). What a user notices is the sign-in throttle: a spoofed header
neither buys a guesser more guesses nor locks out the address it names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from shared.infra.resolve import Infrastructure
from tests.security.support import code_of
from tests.support.gateway_service import PASSWORD, Gateway, running_gateway

pytestmark = pytest.mark.integration

ADDRESS_MAX_FAILURES = 4
PROXIES = "127.0.0.16/30"  # 127.0.0.16 to 127.0.0.19
PROXY, INNER_PROXY, NOT_A_PROXY = "127.0.0.17", "127.0.0.18", "127.0.0.30"


@asynccontextmanager
async def client_from(gateway: Gateway, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(
        base_url=str(gateway.http.base_url), transport=transport, timeout=30
    ) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, email: str, password: str, xff: str | None) -> int:
    headers = {"X-Forwarded-For": xff} if xff is not None else {}
    body = {"email": email, "password": password}
    return (await http.post("/v1/auth/login", json=body, headers=headers)).status_code


async def guess(http: httpx.AsyncClient, xff: str | None) -> None:
    """One failed sign-in for an account nobody has (it counts only against the address)."""
    email = f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    headers = {"X-Forwarded-For": xff} if xff is not None else {}
    response = await http.post(
        "/v1/auth/login", json={"email": email, "password": "guess"}, headers=headers
    )
    assert (response.status_code, code_of(response)) == (401, "invalid_credentials")


@pytest.fixture
async def direct(infra: Infrastructure) -> AsyncIterator[Gateway]:
    """No trusted proxy: the default."""
    async with running_gateway(
        infra,
        login_max_failures=ADDRESS_MAX_FAILURES,
        login_address_max_failures=ADDRESS_MAX_FAILURES,
    ) as gw:
        yield gw


@pytest.fixture
async def proxied(infra: Infrastructure) -> AsyncIterator[Gateway]:
    async with running_gateway(
        infra,
        login_address_max_failures=ADDRESS_MAX_FAILURES,
        gateway_trusted_proxies=PROXIES,
    ) as gw:
        yield gw


async def test_a_spoofed_forwarded_for_changes_nothing(direct: Gateway) -> None:
    """From 127.0.0.1 (which uvicorn believes by default), rotating the header naming the
    victim's address: the guesses count against the guesser's own address, the victim signs in,
    and the guesser is locked out whatever address it names next."""
    victim = await direct.register()
    victims_address = "127.0.0.31"
    for _ in range(ADDRESS_MAX_FAILURES):
        await guess(direct.http, xff=victims_address)
    async with client_from(direct, victims_address) as at_home:
        assert await sign_in(at_home, victim.email, PASSWORD, xff=None) == 200
    assert await sign_in(direct.http, victim.email, PASSWORD, xff="198.51.100.1") == 429
    assert await sign_in(direct.http, victim.email, PASSWORD, xff=None) == 429


async def test_a_trusted_proxy_is_believed_for_its_right_most_untrusted_hop(
    proxied: Gateway,
) -> None:
    user = await proxied.register()
    client, neighbour = "198.51.100.7", "198.51.100.8"
    async with client_from(proxied, PROXY) as proxy:
        for n in range(ADDRESS_MAX_FAILURES):
            # The client wrote its own (rotating) header; the proxy appended the peer it saw.
            await guess(proxy, xff=f"203.0.113.{n}, {client}")
        assert await sign_in(proxy, user.email, PASSWORD, xff=client) == 429
        assert await sign_in(proxy, user.email, PASSWORD, xff=f"{client}, {INNER_PROXY}") == 429
        # A client that names the locked address on the left is still itself.
        assert await sign_in(proxy, user.email, PASSWORD, xff=f"{client}, {neighbour}") == 200
        assert await sign_in(proxy, user.email, PASSWORD, xff=None) == 200


async def test_a_peer_that_is_not_a_trusted_proxy_is_not_believed(proxied: Gateway) -> None:
    user = await proxied.register()
    async with client_from(proxied, NOT_A_PROXY) as peer:
        for n in range(ADDRESS_MAX_FAILURES):
            await guess(peer, xff=f"203.0.113.{n}")
        assert await sign_in(peer, user.email, PASSWORD, xff="203.0.113.200") == 429
    async with client_from(proxied, PROXY) as proxy:
        assert await sign_in(proxy, user.email, PASSWORD, xff="203.0.113.0") == 200
