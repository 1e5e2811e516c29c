"""The gateway's settings. Every value is overridable by environment: `CRYPTOORCH_<FIELD>`
(`CRYPTOORCH_GATEWAY_PORT=8080`, `CRYPTOORCH_JWT_TTL_SECONDS=600`)."""

from __future__ import annotations

import base64
import binascii
import ipaddress

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator

from shared.settings import CommonSettings

MIN_JWT_SECRET_CHARS = 32


class GatewaySettings(CommonSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65535)
    jwt_secret: SecretStr = SecretStr("")
    """HS256 signing key (at least 32 characters); the gateway refuses to start without one."""
    jwt_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    encryption_key: SecretStr = SecretStr("")
    """32 bytes, URL-safe base64 (AES-256-GCM) for TOTP secrets and exchange keys. Without it,
    2FA enrolment and exchange keys answer 503 (so real-money requests are impossible)."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    idempotency_retention_hours: int = Field(default=24, ge=1, le=24 * 30)
    idempotency_lock_timeout_ms: int = Field(default=200, ge=10, le=10_000)
    """How long a request waits for another one holding the same key before answering 409."""
    gateway_trusted_proxies: str = ""
    """Comma-separated IPs or CIDRs of the reverse proxies in front of the gateway (none by
    default). Only a peer in this list is believed about `X-Forwarded-For`, and then its
    right-most hop that is not itself a trusted proxy is the client's address."""
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    """Failed sign-ins and wrong 2FA codes per (account, client address) within the window."""
    login_address_max_failures: int = Field(default=50, ge=1, le=100_000)
    """Failed sign-ins and wrong 2FA codes per client address (any account) within the window."""
    login_failure_window_seconds: int = Field(default=300, ge=1, le=86_400)
    cancels_per_second: int = Field(default=20, ge=1, le=10_000)
    """Cancel requests per account per second (RTS 6 Art. 15(1)(d)); one more is
    `429 too_many_cancels`. Separate from, and never counted by, the order throttle."""
    purge_interval_seconds: float = Field(default=3600, gt=0)
    page_size_max: int = Field(default=100, ge=1, le=1000)
    dlq_max_redrives: int = Field(default=3, ge=1, le=100)
    """How many times the console re-drives one dead-lettered message; one more is
    `409 redrive_limit_reached` (counted in the gateway's `dead_letter_redrives`)."""
    audit_database_url: str = ""
    """Where `GET /v1/admin/audit/export` reads the audit trail: in production a role that may
    only SELECT from `audit_trail`; default, the audit service's database on DATABASE_URL."""

    read_database_urls: dict[str, str] = {}
    """Where the console reads the other services' databases, by service name (JSON:
    `{"ledger": "postgresql://console_ro@db/ledger"}`): in production a role that may only
    SELECT `outbox` (and, of the ledger, `venue_reconciliations` and `venue_comparisons`).
    Default: each service's database on DATABASE_URL; the audit trail's is `audit_database_url`."""

    def audit_export_url(self) -> str:
        return self.audit_database_url or self.service_database_url("audit")

    def read_database_url(self, service: str) -> str:
        """Where the gateway reads `service`'s database, read-only (never to write)."""
        if service in self.read_database_urls:
            return self.read_database_urls[service]
        if service == "audit":
            return self.audit_export_url()
        return self.service_database_url(service)

    @field_validator("gateway_trusted_proxies")
    @classmethod
    def _networks_only(cls, value: str) -> str:
        """Every entry an IP or a CIDR: a typo must not start a gateway that trusts nobody it
        should, and `*` (believe anyone) is exactly the hole this setting closes."""
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    def trusted_proxies(self) -> list[str]:
        """The entries as networks (`10.0.0.7` is `10.0.0.7/32`, `10.0.0.7/8` is `10.0.0.0/8`):
        uvicorn would silently never match an entry it cannot parse."""
        return [
            str(ipaddress.ip_network(e, strict=False))
            for e in _entries(self.gateway_trusted_proxies)
        ]

    def check_secrets(self) -> None:
        """Refuse to run with a weak JWT secret or a malformed encryption key."""
        if len(self.jwt_secret.get_secret_value()) < MIN_JWT_SECRET_CHARS:
            raise SystemExit(
                f"CRYPTOORCH_JWT_SECRET must be set to at least {MIN_JWT_SECRET_CHARS} characters "
                "(`cryptoorch up` generates one)"
            )
        if self.encryption_key.get_secret_value() and self.encryption_key_bytes() is None:
            raise SystemExit("CRYPTOORCH_ENCRYPTION_KEY must be 32 bytes in URL-safe base64")
        if self.exchange_seal_key:
            try:
                Fernet(self.exchange_seal_key.encode())
            except ValueError:
                raise SystemExit("CRYPTOORCH_EXCHANGE_SEAL_KEY must be a Fernet key") from None

    def encryption_key_bytes(self) -> bytes | None:
        text = self.encryption_key.get_secret_value()
        if not text:
            return None
        try:
            key = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError):
            return None
        return key if len(key) == 32 else None


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in text.split(",") if entry.strip()]
