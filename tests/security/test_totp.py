"""TOTP: a code is accepted once (login, withdrawals, real orders share it), a code of another
secret is refused, and guessing is cut off with `429 too_many_attempts` and `Retry-After`:
per (account, address) after MAX_FAILURES, per address after ADDRESS_MAX_FAILURES. A replayed
code that was valid is refused but is not a guess."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pyotp
import pytest

from shared.infra.resolve import Infrastructure
from tests.security.support import code_of, enable_two_factor_early, problem_of
from tests.support.gateway_service import (
    PASSWORD,
    Gateway,
    User,
    market_buy,
    new_key,
    running_gateway,
)

pytestmark = pytest.mark.integration

MAX_FAILURES = 3
ADDRESS_MAX_FAILURES = 6
WRONG_CODES = ("000001", "000002", "000003", "000004", "000005")


def withdrawal_body() -> dict[str, str]:
    return {"asset": "USDT", "amount": "1", "address": "addr-" + new_key()}


async def withdraw(user: User, code: str) -> httpx.Response:
    headers = user.auth(new_key(), **{"X-TOTP-Code": code})
    return await user.gateway.http.post("/v1/withdrawals", json=withdrawal_body(), headers=headers)


async def requested_withdrawals(gateway: Gateway, user: User) -> int:
    commands = await gateway.outbox("RequestWithdrawal")
    return sum(1 for command in commands if command.account_id == user.user_id)


def next_code(user: User) -> str:
    """The code of the step after the last one used (the drift window accepts it)."""
    assert user.totp is not None
    user.used_step += 1
    return user.totp.generate_otp(user.used_step)


async def test_a_used_code_is_refused_everywhere_after_its_first_use(gateway: Gateway) -> None:
    user = await gateway.register()
    totp = await enable_two_factor_early(user)
    confirm_code = totp.generate_otp(user.used_step)

    first = next_code(user)
    assert (await user.login(totp_code=first)).status_code == 200
    replayed_login = await gateway.login(user.email, totp_code=first)
    assert (replayed_login.status_code, code_of(replayed_login)) == (401, "totp_required")
    used_at_login = await withdraw(user, first)
    assert (used_at_login.status_code, code_of(used_at_login)) == (403, "two_factor_required")

    second = next_code(user)
    assert (await withdraw(user, second)).status_code == 202
    for replay in (second, first, confirm_code):
        refused = await withdraw(user, replay)
        assert (refused.status_code, code_of(refused)) == (403, "two_factor_required")
        real_order = await gateway.http.post(
            "/v1/orders",
            json=market_buy(mode="real", exchange="binance"),
            headers=user.auth(new_key(), **{"X-TOTP-Code": replay}),
        )
        assert (real_order.status_code, code_of(real_order)) == (403, "two_factor_required")
    assert await requested_withdrawals(gateway, user) == 1
    assert [c for c in await gateway.outbox("PlaceOrder") if c.account_id == user.user_id] == []


async def test_a_code_from_another_secret_is_refused(gateway: Gateway) -> None:
    user, stranger = await gateway.register(), await gateway.register()
    await enable_two_factor_early(user)
    stranger_totp = await enable_two_factor_early(stranger)
    for foreign in (
        stranger_totp.now(),
        pyotp.TOTP(pyotp.random_base32()).now(),
        stranger_totp.at(time.time() + 30),
    ):
        if user.totp is not None and foreign in {user.totp.now(), user.totp.at(time.time() + 30)}:
            continue  # one in a million: the foreign code happens to be this user's too
        login = await gateway.login(user.email, totp_code=foreign)
        assert (login.status_code, code_of(login)) == (401, "totp_required")
        withdrawal = await withdraw(user, foreign)
        assert (withdrawal.status_code, code_of(withdrawal)) == (403, "two_factor_required")
    assert await requested_withdrawals(gateway, user) == 0
    assert (await withdraw(user, next_code(user))).status_code == 202, "the user's own code works"


@pytest.fixture(scope="module")
async def strict(infra: Infrastructure) -> AsyncIterator[Gateway]:
    async with running_gateway(
        infra, login_max_failures=MAX_FAILURES, login_address_max_failures=ADDRESS_MAX_FAILURES
    ) as gateway:
        yield gateway


@asynccontextmanager
async def client_from(gateway: Gateway, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from `address` (a loopback alias): the per-address
    limit of one scenario does not spill into another."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(
        base_url=str(gateway.http.base_url), transport=transport, timeout=30
    ) as client:
        yield client


def assert_too_many_attempts(response: httpx.Response, window_seconds: int) -> None:
    assert (response.status_code, problem_of(response)["code"]) == (429, "too_many_attempts")
    assert 0 < int(response.headers["retry-after"]) <= window_seconds


async def test_guessing_login_codes_ends_in_429_even_for_the_right_code(strict: Gateway) -> None:
    user = await strict.register()
    totp = await enable_two_factor_early(user)
    async with client_from(strict, "127.0.0.11") as http:
        body = {"email": user.email, "password": PASSWORD}
        for wrong in WRONG_CODES[:MAX_FAILURES]:
            guess = await http.post("/v1/auth/login", json=body | {"totp_code": wrong})
            assert (guess.status_code, code_of(guess)) == (401, "totp_required")
        right = totp.generate_otp(user.used_step + 1)
        locked = await http.post("/v1/auth/login", json=body | {"totp_code": right})
        assert_too_many_attempts(locked, strict.settings.login_failure_window_seconds)


async def test_guessing_the_withdrawal_code_ends_in_429_and_creates_nothing(
    strict: Gateway,
) -> None:
    user = await strict.register()
    await enable_two_factor_early(user)
    async with client_from(strict, "127.0.0.12") as http:
        answers = []
        for wrong in WRONG_CODES[:MAX_FAILURES]:
            headers = user.auth(new_key(), **{"X-TOTP-Code": wrong})
            answers.append(
                await http.post("/v1/withdrawals", json=withdrawal_body(), headers=headers)
            )
        assert [(a.status_code, code_of(a)) for a in answers] == [
            (403, "two_factor_required")
        ] * MAX_FAILURES
        headers = user.auth(new_key(), **{"X-TOTP-Code": next_code(user)})
        locked = await http.post("/v1/withdrawals", json=withdrawal_body(), headers=headers)
        assert_too_many_attempts(locked, strict.settings.login_failure_window_seconds)
    assert await requested_withdrawals(strict, user) == 0


async def test_guessing_the_confirmation_code_ends_in_429(strict: Gateway) -> None:
    user = await strict.register()
    async with client_from(strict, "127.0.0.13") as http:
        enrolled = await http.post("/v1/auth/2fa/enroll", headers=user.auth())
        secret = enrolled.json()["secret"]
        strict.secrets_seen.append(secret)
        for wrong in WRONG_CODES[:MAX_FAILURES]:
            guess = await http.post(
                "/v1/auth/2fa/confirm", json={"code": wrong}, headers=user.auth()
            )
            assert (guess.status_code, code_of(guess)) == (422, "totp_invalid")
        right = pyotp.TOTP(secret).now()
        locked = await http.post("/v1/auth/2fa/confirm", json={"code": right}, headers=user.auth())
        assert_too_many_attempts(locked, strict.settings.login_failure_window_seconds)


async def test_a_user_behind_the_address_of_a_guesser_still_signs_in(strict: Gateway) -> None:
    victim, neighbour = await strict.register(), await strict.register()
    async with client_from(strict, "127.0.0.14") as office:
        for _ in range(MAX_FAILURES):
            body = {"email": victim.email, "password": "a guess"}
            guess = await office.post("/v1/auth/login", json=body)
            assert (guess.status_code, code_of(guess)) == (401, "invalid_credentials")
        right = {"email": victim.email, "password": PASSWORD}
        locked = await office.post("/v1/auth/login", json=right)
        assert_too_many_attempts(locked, strict.settings.login_failure_window_seconds)
        same_address = {"email": neighbour.email, "password": PASSWORD}
        assert (await office.post("/v1/auth/login", json=same_address)).status_code == 200
    async with client_from(strict, "127.0.0.15") as elsewhere:
        assert (await elsewhere.post("/v1/auth/login", json=right)).status_code == 200


async def test_guessing_many_accounts_from_one_address_locks_that_address_out(
    strict: Gateway,
) -> None:
    user = await strict.register()
    body = {"email": user.email, "password": PASSWORD}
    async with client_from(strict, "127.0.0.17") as attacker:
        for attempt in range(ADDRESS_MAX_FAILURES):
            guess_body = {"email": f"nobody-{attempt}-{new_key()}@example.com", "password": "x"}
            guess = await attacker.post("/v1/auth/login", json=guess_body)
            assert (guess.status_code, code_of(guess)) == (401, "invalid_credentials")
        locked = await attacker.post("/v1/auth/login", json=body)
        assert_too_many_attempts(locked, strict.settings.login_failure_window_seconds)
    async with client_from(strict, "127.0.0.18") as elsewhere:
        assert (await elsewhere.post("/v1/auth/login", json=body)).status_code == 200


async def test_a_replayed_code_is_refused_but_is_not_a_guess(strict: Gateway) -> None:
    """A double-submitted withdrawal (a new Idempotency-Key, the code already used) and a
    replayed sign-in, more often than the limit: each refused, none counted."""
    user = await strict.register()
    await enable_two_factor_early(user)
    used = next_code(user)
    async with client_from(strict, "127.0.0.16") as http:

        async def withdraw_from_here(code: str) -> httpx.Response:
            headers = user.auth(new_key(), **{"X-TOTP-Code": code})
            return await http.post("/v1/withdrawals", json=withdrawal_body(), headers=headers)

        assert (await withdraw_from_here(used)).status_code == 202
        for _ in range(MAX_FAILURES + 1):
            again = await withdraw_from_here(used)
            assert (again.status_code, code_of(again)) == (403, "two_factor_required")
            body = {"email": user.email, "password": PASSWORD, "totp_code": used}
            replayed_login = await http.post("/v1/auth/login", json=body)
            assert (replayed_login.status_code, code_of(replayed_login)) == (401, "totp_required")
        assert (await withdraw_from_here(next_code(user))).status_code == 202
    assert await requested_withdrawals(strict, user) == 2
