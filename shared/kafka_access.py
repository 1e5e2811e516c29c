"""How a client reaches the broker: its address and, on a secured cluster, who it is.

One value, built from the settings (`CommonSettings.kafka_access`), the runtime file (the
CLI) or a test's broker, is the only thing every producer, consumer and admin client is
given: `client_options()` turns it into aiokafka's keyword arguments, so no client can be
created that forgets the credentials. The password never shows in a repr or a log line.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaAccess:
    """A broker address and the credentials to use there (none on a PLAINTEXT listener)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    """SASL_SSL: the CA that signed the brokers' certificates (the system's CAs if empty)."""

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ValueError(
                f"kafka security protocol {self.security_protocol!r}: one of {PROTOCOLS}"
            )
        if self.sasl_mechanism not in MECHANISMS:
            raise ValueError(f"kafka SASL mechanism {self.sasl_mechanism!r}: one of {MECHANISMS}")
        if self.authenticated and not (self.username and self.password):
            raise ValueError(
                f"kafka security protocol {self.security_protocol} needs a username and a "
                "password (CRYPTOORCH_KAFKA_USERNAME, CRYPTOORCH_KAFKA_PASSWORD)"
            )

    @property
    def authenticated(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `AIOKafkaProducer`, `AIOKafkaConsumer`, `AIOKafkaAdminClient`."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.authenticated:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.security_protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile or None)
        return options

    def as_user(self, username: str, password: str) -> KafkaAccess:
        """The same broker as another principal."""
        return replace(self, username=username, password=password)

    def __str__(self) -> str:
        who = f" as {self.username}" if self.authenticated else ""
        return f"{self.bootstrap_servers} ({self.security_protocol}{who})"
