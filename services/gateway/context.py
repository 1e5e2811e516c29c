"""What every request handler needs, built once per app by `create_app`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from services.gateway.auth import TokenIssuer
from services.gateway.encryption import SecretBox
from services.gateway.errors import EncryptionUnavailable
from services.gateway.metrics import GatewayMetrics
from services.gateway.ratelimit import AttemptLimit, AttemptLimits
from services.gateway.settings import GatewaySettings
from shared.clock import Clock
from shared.db import ConnectionPool
from shared.emitter import Emitter

BrokerProbe = Callable[[], Awaitable[bool]]


@dataclass
class GatewayContext:
    pool: ConnectionPool
    settings: GatewaySettings
    tokens: TokenIssuer
    secret_box: SecretBox | None
    broker_ready: BrokerProbe
    emitter: Emitter
    """The gateway's messages; its clock is every request's clock."""
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    @property
    def clock(self) -> Clock:
        return self.emitter.clock

    @property
    def attempt_limits(self) -> AttemptLimits:
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        return AttemptLimits(
            per_account_address=AttemptLimit(self.settings.login_max_failures, window),
            per_address=AttemptLimit(self.settings.login_address_max_failures, window),
        )

    @property
    def idempotency_retention(self) -> timedelta:
        return timedelta(hours=self.settings.idempotency_retention_hours)

    def require_seal_key(self) -> str:
        """The key that seals exchange credentials for execution (`shared.sealed`)."""
        if not self.settings.exchange_seal_key:
            raise EncryptionUnavailable(
                "no CRYPTOORCH_EXCHANGE_SEAL_KEY is configured; exchange keys cannot be added"
            )
        return self.settings.exchange_seal_key

    def require_secret_box(self) -> SecretBox:
        if self.secret_box is None:
            raise EncryptionUnavailable(
                "no encryption key is configured (CRYPTOORCH_ENCRYPTION_KEY); "
                "secrets cannot be stored"
            )
        return self.secret_box
