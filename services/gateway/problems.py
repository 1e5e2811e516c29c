"""Every error as `application/problem+json` (RFC 9457) with a stable `code`, mapped here only.

Domain errors (`errors.py`), FastAPI's validation errors, Starlette's HTTP errors
(404, 405, ...) and anything unexpected all leave through `problem_response`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.gateway import errors
from services.gateway.api.strict_json import DuplicateKey

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemKind:
    status: int
    code: str


PROBLEMS: dict[type[errors.GatewayError], ProblemKind] = {
    errors.NotFound: ProblemKind(404, "not_found"),
    errors.EmailTaken: ProblemKind(409, "email_taken"),
    errors.Unauthorized: ProblemKind(401, "unauthorized"),
    errors.TokenInvalid: ProblemKind(401, "token_invalid"),
    errors.InvalidCredentials: ProblemKind(401, "invalid_credentials"),
    errors.TotpRequired: ProblemKind(401, "totp_required"),
    errors.TotpInvalid: ProblemKind(422, "totp_invalid"),
    errors.TwoFactorRequired: ProblemKind(403, "two_factor_required"),
    errors.TwoFactorAlreadyEnabled: ProblemKind(409, "two_factor_already_enabled"),
    errors.TwoFactorNotEnrolled: ProblemKind(409, "two_factor_not_enrolled"),
    errors.Forbidden: ProblemKind(403, "forbidden"),
    errors.Throttled: ProblemKind(429, "too_many_requests"),
    errors.CrossSiteRefused: ProblemKind(403, "cross_site_refused"),
    errors.TooManyAttempts: ProblemKind(429, "too_many_attempts"),
    errors.TooManyCancels: ProblemKind(429, "too_many_cancels"),
    errors.IdempotencyKeyRequired: ProblemKind(400, "idempotency_key_required"),
    errors.IdempotencyKeyInvalid: ProblemKind(400, "idempotency_key_invalid"),
    errors.IdempotencyKeyReused: ProblemKind(422, "idempotency_key_reused"),
    errors.IdempotencyRequestInProgress: ProblemKind(409, "idempotency_request_in_progress"),
    errors.OrderNotCancellable: ProblemKind(409, "order_not_cancellable"),
    errors.KillSwitchTargetUnknown: ProblemKind(404, "kill_switch_target_unknown"),
    errors.DepositReferenceTaken: ProblemKind(409, "deposit_reference_taken"),
    errors.RestrictionTargetUnknown: ProblemKind(404, "restriction_target_unknown"),
    errors.EncryptionUnavailable: ProblemKind(503, "encryption_unavailable"),
    errors.InvalidCursor: ProblemKind(422, "validation_error"),
    errors.InvalidSeqRange: ProblemKind(422, "validation_error"),
    errors.AuditUnavailable: ProblemKind(503, "audit_unavailable"),
    errors.AdminCreationRefused: ProblemKind(409, "admin_creation_refused"),
    errors.DeadLetterUnknown: ProblemKind(404, "dead_letter_unknown"),
    errors.RedriveLimitReached: ProblemKind(409, "redrive_limit_reached"),
    errors.RedriveNotOwned: ProblemKind(409, "redrive_not_owned"),
    errors.BrokerUnavailable: ProblemKind(503, "broker_unavailable"),
}

HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class Problem(BaseModel):
    """RFC 9457 problem details with the stable `code` clients switch on."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str


def documented_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring the problem documents a router may answer."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {
            "model": Problem,
            "description": _title(status),
            "content": {MEDIA_TYPE: schema},
        }
        for status in statuses
    }


def kind_of(error_type: type[errors.GatewayError]) -> ProblemKind:
    """The most specific mapping in the error's class hierarchy; unmapped is a bug (500)."""
    for cls in error_type.__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return ProblemKind(500, "internal_error")


def problem_body(status: int, code: str, detail: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "code": code,
        "detail": detail,
    }


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """A problem document; never cached (`Cache-Control: no-store`), whatever the path."""
    body = json.dumps(problem_body(status, code, detail)).encode()
    headers = {**(headers or {}), "Cache-Control": "no-store"}
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def validation_detail(problems: Sequence[Any]) -> str:
    """`amount: must be greater than 0; side: ...` from pydantic's error list (no input echo)."""
    parts = []
    for problem in problems:
        location = [str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path")]
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(location) or 'body'}: {message}")
    return "; ".join(parts)[:2000] or "invalid request"


def install(app: FastAPI) -> None:
    """Route every error of `app` through `problem_response`."""

    async def on_gateway_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.GatewayError)
        kind = kind_of(type(exc))
        headers: dict[str, str] = {}
        if isinstance(exc, errors.Throttled):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if kind.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        detail = exc.detail or _title(kind.status)
        return problem_response(kind.status, kind.code, detail, headers)

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(422, "validation_error", validation_detail(exc.errors()))

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, DuplicateKey):
            return problem_response(422, "validation_error", f"body: {exc.__cause__}")
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's "error parsing the body" (bytes that are not UTF-8, JSON nested
            # deeper than the parser goes): invalid JSON, like any other, is a 422.
            return problem_response(422, "validation_error", "body: not valid JSON")
        code = HTTP_STATUS_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, code, str(exc.detail), headers)

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error: %s", type(exc).__name__)
        return problem_response(500, "internal_error", "internal error")

    app.add_exception_handler(errors.GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
