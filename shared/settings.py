"""One settings object per service, read from the environment (and an optional settings file).

`KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` keep their conventional names; every
other setting is `CRYPTOORCH_<NAME>`. `DATABASE_URL` names a server: each service
uses its own database on it, `<db_prefix>_<service>`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.kafka_access import KafkaAccess


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRYPTOORCH_",
        env_file=None,
        extra="ignore",
        frozen=True,
    )

    kafka_bootstrap_servers: str = Field(
        default="",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "CRYPTOORCH_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern=r"^(PLAINTEXT|SASL_PLAINTEXT|SASL_SSL)$"
    )
    """PLAINTEXT (the embedded broker by default), or SASL with the service's own principal."""
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", pattern=r"^(SCRAM-SHA-512|SCRAM-SHA-256|PLAIN)$"
    )
    kafka_username: str = ""
    """The broker principal: the service's name under `cryptoorch up` with security on."""
    kafka_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    """SASL_SSL: the CA of the brokers' certificates (empty: the system's CAs)."""
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "CRYPTOORCH_DATABASE_URL")
    )
    db_prefix: str = Field(default="cryptoorch", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    db_pool_size: int = Field(default=10, ge=1, le=100)
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_max_attempts: int = Field(default=3, ge=1, le=100)
    consumer_session_timeout_ms: int = Field(default=6000, ge=1000, le=300_000)
    """How long a dead consumer keeps its partitions before the group moves them."""
    consumer_heartbeat_ms: int = Field(default=500, ge=100, le=60_000)
    consumer_rebalance_timeout_ms: int = Field(default=5000, ge=1000, le=300_000)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    trace_exporter: str = Field(default="none", pattern=r"^(none|console|memory|file|otlp)$")
    trace_file: str = ""
    """With `trace_exporter=file`: where every process appends its spans (JSON lines)."""
    metrics_host: str = "127.0.0.1"
    """Where `/metrics` listens: 0.0.0.0 in a container so Prometheus can reach it."""
    kafka_replication_factor: int = Field(default=1, ge=1, le=10)
    """For topics a service creates itself; production creates them ahead (deploy/topics.yaml)."""
    kafka_min_insync_replicas: int = Field(default=1, ge=1, le=10)
    """Replicas that must have a message before a produce is acknowledged (`acks=all`): 1 on
    one broker, 2 on a cluster of 3 (deploy/topics.yaml)."""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    """Where a service without its own HTTP server exposes `/metrics` (0: not exposed)."""
    log_level: str = "INFO"
    exchange_seal_key: str = ""
    """Fernet key sealing exchange credentials between gateway and execution (`shared.sealed`)."""

    @property
    def kafka_access(self) -> KafkaAccess:
        """What every Kafka client of this process is given (`shared.kafka_access`)."""
        return KafkaAccess(
            self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=self.kafka_password.get_secret_value(),
            ssl_cafile=self.kafka_ssl_cafile,
        )

    def service_database_url(self, service: str) -> str:
        return database_url_for(self.database_url, f"{self.db_prefix}_{service}")

    def require_infrastructure(self) -> None:
        """A service process never starts its own infrastructure: `cryptoorch up` does."""
        missing = [
            name
            for name, value in (
                ("KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers),
                ("DATABASE_URL", self.database_url),
            )
            if not value
        ]
        if self.kafka_security_protocol != "PLAINTEXT":
            missing += [
                name
                for name, value in (
                    ("CRYPTOORCH_KAFKA_USERNAME", self.kafka_username),
                    ("CRYPTOORCH_KAFKA_PASSWORD", self.kafka_password.get_secret_value()),
                )
                if not value
            ]
        if missing:
            raise SystemExit(
                f"{', '.join(missing)} not set: start the system with `cryptoorch up`, "
                "or point these at a running broker and PostgreSQL"
            )


def database_url_for(server_url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
