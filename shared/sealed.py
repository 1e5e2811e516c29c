"""Exchange credentials sealed for execution's eyes only.

The gateway receives a user's exchange key; execution needs it to trade. Kafka is
the only road between them, and a secret must never sit readable in an event or
the audit trail. So the gateway seals the credentials (Fernet: AES-128-CBC +
HMAC-SHA256) with `CRYPTOORCH_EXCHANGE_SEAL_KEY`, which only gateway and
execution hold; the field is named `sealed_secret`, which the audit trail redacts.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken


class SealBroken(ValueError):
    """The sealed value was not produced with our key, or was altered."""


def seal(credentials: dict[str, str], key: str) -> str:
    return Fernet(key.encode()).encrypt(json.dumps(credentials).encode()).decode()


def unseal(sealed: str, key: str) -> dict[str, str]:
    try:
        data = json.loads(Fernet(key.encode()).decrypt(sealed.encode()))
    except (InvalidToken, ValueError) as exc:
        raise SealBroken("sealed credentials cannot be opened with this key") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SealBroken("sealed credentials are not a mapping of strings")
    return {str(k): v for k, v in data.items()}


def new_seal_key() -> str:
    return Fernet.generate_key().decode()
