"""A broker that knows who is talking: SASL/SCRAM principals and ACLs from the access table.

`BrokerSecurity` holds one password per principal: the broker itself, `admin` (topics and
ACLs: `cryptoorch up` and the operator's CLI) and each service. It contributes to a node's
server properties and to its storage format:

- the client listener (`CLIENT`) speaks SASL_PLAINTEXT with SCRAM-SHA-512 only; the SCRAM
  users are written into the metadata log when the storage is formatted (`--add-scram`), so
  the broker accepts them from its first start, before any admin request could make them;
- brokers talk to each other on the same listener with SCRAM too (principal `broker`);
- the controller listener uses PLAIN with the broker's password in its JAAS configuration
  (a KRaft controller cannot use SCRAM: the credentials live in the log it serves);
- `StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`: what no ACL allows is
  refused; `broker` and `admin` are super users.

The ACLs each service's principal gets are `shared.infra.kafka_acls`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.contracts.access import SERVICES
from shared.kafka_access import KafkaAccess

MECHANISM = "SCRAM-SHA-512"
BROKER = "broker"
ADMIN = "admin"
CLIENT_LISTENER = "CLIENT"
CONTROLLER_LISTENER = "CONTROLLER"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
CREDENTIALS_FILE = "kafka-credentials.json"


def _jaas_value(value: str) -> str:
    """A JAAS option value: quoted, with `"` and `\\` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class BrokerSecurity:
    """Principals and their passwords; the same object for every node of a cluster."""

    passwords: Mapping[str, str] = field(repr=False)
    """Principal name -> password: `broker`, `admin` and every service."""

    def __post_init__(self) -> None:
        for name in (BROKER, ADMIN):
            if not self.passwords.get(name):
                raise ValueError(f"broker security needs a password for {name!r}")
        for name, password in self.passwords.items():
            if not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"principal {name!r}: letters, digits, - and _ only")
            if not password or any(c in password for c in ',[]="\\ \n'):
                # --add-scram parses `name=...,password=...` inside brackets
                raise ValueError(f"the password of {name!r} is empty or has , [ ] = quotes")

    @classmethod
    def generate(cls, principals: Iterable[str] = SERVICES) -> BrokerSecurity:
        """New random passwords for `broker`, `admin` and `principals`."""
        return cls({name: secrets.token_urlsafe(24) for name in (BROKER, ADMIN, *principals)})

    @classmethod
    def load_or_create(cls, folder: Path, principals: Iterable[str] = SERVICES) -> BrokerSecurity:
        """The passwords kept in `folder/kafka-credentials.json` (0600), made on first use;
        a principal added since is given one and stored alongside."""
        path = folder / CREDENTIALS_FILE
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        wanted = (BROKER, ADMIN, *principals)
        missing = {name: secrets.token_urlsafe(24) for name in wanted if name not in stored}
        if missing:
            stored.update(missing)
            folder.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(json.dumps(stored))
        return cls(stored)

    def password(self, principal: str) -> str:
        return self.passwords[principal]

    def access(self, bootstrap_servers: str, principal: str) -> KafkaAccess:
        """How a client reaches this broker as `principal`."""
        return KafkaAccess(
            bootstrap_servers,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=MECHANISM,
            username=principal,
            password=self.passwords[principal],
        )

    def client_env(self, principal: str) -> dict[str, str]:
        """The environment that makes a service process connect as `principal`."""
        return {
            "CRYPTOORCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CRYPTOORCH_KAFKA_SASL_MECHANISM": MECHANISM,
            "CRYPTOORCH_KAFKA_USERNAME": principal,
            "CRYPTOORCH_KAFKA_PASSWORD": self.passwords[principal],
        }

    def server_properties(
        self, port: int, controller_port: int, host: str = "127.0.0.1"
    ) -> dict[str, str]:
        """Listeners, SASL and the authorizer; override the plain node's listener settings."""
        broker_password = _jaas_value(self.passwords[BROKER])
        scram_jaas = f"{SCRAM_LOGIN} required username={_jaas_value(BROKER)} "
        scram_jaas += f"password={broker_password};"
        plain_jaas = f"{PLAIN_LOGIN} required username={_jaas_value(BROKER)} "
        plain_jaas += f"password={broker_password} user_{BROKER}={broker_password};"
        client, controller = CLIENT_LISTENER.lower(), CONTROLLER_LISTENER.lower()
        return {
            "listeners": (
                f"{CLIENT_LISTENER}://{host}:{port},{CONTROLLER_LISTENER}://{host}:{controller_port}"
            ),
            "advertised.listeners": f"{CLIENT_LISTENER}://{host}:{port}",
            "inter.broker.listener.name": CLIENT_LISTENER,
            "controller.listener.names": CONTROLLER_LISTENER,
            "listener.security.protocol.map": (
                f"{CLIENT_LISTENER}:SASL_PLAINTEXT,{CONTROLLER_LISTENER}:SASL_PLAINTEXT"
            ),
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            f"listener.name.{client}.sasl.enabled.mechanisms": MECHANISM,
            f"listener.name.{client}.{MECHANISM.lower()}.sasl.jaas.config": scram_jaas,
            f"listener.name.{controller}.sasl.enabled.mechanisms": "PLAIN",
            f"listener.name.{controller}.plain.sasl.jaas.config": plain_jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{BROKER};User:{ADMIN}",
        }

    def format_args(self) -> list[str]:
        """`kafka.tools.StorageTool format` arguments that create every SCRAM user."""
        args: list[str] = []
        for name, password in sorted(self.passwords.items()):
            args += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        return args
