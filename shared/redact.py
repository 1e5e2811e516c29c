"""Secrets never leave a service in the clear: values under secret-looking keys are replaced.

The audit trail redacts before hashing; the console redacts a dead letter before showing it.

Messages are designed to carry no secret; this is defence in depth against a
field added carelessly, a header copied into a dead letter, or a token pasted
into a free-text field. Redaction runs before the hash, so the trail (and every
later verification) only ever sees "[REDACTED]".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "totp",
        "otp",
        "mfa",
        "authorization",
        "cookie",
        "credential",
        "credentials",
    }
)
"""A key holding one of these words (`totp_secret`, `x-totp-code`, `accessToken`) is secret."""
SECRET_KEYS = frozenset({"code", "apikey", "api_key", "private_key", "access_key", "secret_key"})
"""Keys secret as a whole; `code` alone only, so `error_code` or `status_code` stay readable."""
_SECRET_FRAGMENTS = ("api_key", "apikey", "private_key", "access_key")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SECRET_VALUE = re.compile(
    r"^(bearer\s+\S+"  # an Authorization header value
    r"|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$",  # a JWT
    re.IGNORECASE,
)
_EMBEDDED_SUFFIX = "_b64"
"""Base64 of a whole message (a dead letter's original bytes): redacted inside, re-encoded."""


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a value stored under `key` must never be kept (remembered: messages repeat keys)."""
    normal = _NOT_ALNUM.sub("_", _CAMEL_BOUNDARY.sub("_", key).lower()).strip("_")
    if normal in SECRET_KEYS or any(f in normal for f in _SECRET_FRAGMENTS):
        return True
    return any(word in SECRET_WORDS for word in normal.split("_"))


def redact(value: Any) -> Any:
    """A copy of a JSON value with every secret replaced by "[REDACTED]"; the input is untouched."""
    if isinstance(value, dict):
        return {key: _redact_entry(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str) and _SECRET_VALUE.match(value.strip()):
        return REDACTED
    return value


def _redact_entry(key: Any, value: Any) -> Any:
    if isinstance(key, str):
        if value is not None and is_secret_key(key):
            return REDACTED
        if key.endswith(_EMBEDDED_SUFFIX) and isinstance(value, str):
            return _redact_embedded(value)
    return redact(value)


def _redact_embedded(encoded: str) -> str:
    """Base64 of JSON with a secret inside → base64 of the redacted JSON; anything else as is."""
    try:
        inner = json.loads(base64.b64decode(encoded, validate=True))
        cleaned = redact(inner)
    except (binascii.Error, ValueError, RecursionError):
        return encoded
    if cleaned == inner:
        return encoded
    rewritten = json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(rewritten.encode()).decode()
