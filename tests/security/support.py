"""Helpers of the security tests: the gateway app's routes, problem documents, early 2FA."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable
from typing import Any

import httpx
import pyotp
from fastapi import FastAPI

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.support.gateway_service import User
from tests.support.no_database import UntouchablePool

PROBLEM_JSON = "application/problem+json"
TOTP_STEP_SECONDS = 30


def gateway_app() -> FastAPI:
    """The gateway's FastAPI app with the production routes; nothing is connected (for its
    route table and OpenAPI document only)."""

    async def unused_probe() -> bool:
        return True

    settings = GatewaySettings(
        KAFKA_BOOTSTRAP_SERVERS="unused:9092",
        DATABASE_URL="postgresql://unused/unused",
        jwt_secret="routes-only-" + "x" * 32,
        encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    return create_app(UntouchablePool(), settings, broker_ready=unused_probe)


def app_endpoints(routes: Iterable[Any]) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, routers included (HEAD aside: it follows GET)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        nested = getattr(route, "effective_route_contexts", None)
        if callable(nested):
            found |= app_endpoints(nested())
            continue
        if isinstance(getattr(route, "routes", None), list):
            found |= app_endpoints(route.routes)
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, str(route.path)))
    return found


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The response's problem document; fails unless it is `application/problem+json` with a
    `code` and a `status` equal to the HTTP status."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == PROBLEM_JSON, (response.status_code, media_type, response.text)
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert body.get("status") == response.status_code, body
    return body


def code_of(response: httpx.Response) -> str | None:
    """The problem `code` of an error answer (checked to be problem+json), None for a 2xx."""
    if response.status_code < 400:
        return None
    return str(problem_of(response)["code"])


async def enable_two_factor_early(user: User) -> pyotp.TOTP:
    """Enrol and confirm with the code of the *previous* time step (accepted for clock drift),
    so the current and the next step stay free: two more codes without waiting for the clock.
    Falls back to the helper's own confirmation if the step boundary got in the way."""
    http = user.gateway.http
    enrolled = await http.post("/v1/auth/2fa/enroll", headers=user.auth())
    assert enrolled.status_code == 200, enrolled.text
    totp = pyotp.TOTP(enrolled.json()["secret"])
    user.totp = totp
    user.gateway.secrets_seen.append(totp.secret)
    previous = int(time.time()) // TOTP_STEP_SECONDS - 1
    confirm = await http.post(
        "/v1/auth/2fa/confirm", json={"code": totp.generate_otp(previous)}, headers=user.auth()
    )
    if confirm.status_code == 200:
        user.used_step = previous
        return totp
    code = await user.fresh_code()
    confirm = await http.post("/v1/auth/2fa/confirm", json={"code": code}, headers=user.auth())
    assert confirm.status_code == 200, confirm.text
    return totp
