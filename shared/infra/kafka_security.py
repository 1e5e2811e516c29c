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

`acl_bindings` turns `shared.contracts.access` into the ACLs each service needs, and
`create_acls` sends them with the admin principal (aiokafka's protocol structs: no other
client library at run time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from shared.contracts.access import SERVICES, readable_by, writable_by
from shared.contracts.topics import all_topics
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


class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    DESCRIBE = 8


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


ALLOW = 3


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule: `principal` may `operation` on the resource (from any host)."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    operation: Operation
    pattern: PatternType = PatternType.LITERAL

    def row(self) -> tuple[Any, ...]:
        return (
            int(self.resource_type),
            self.resource_name,
            int(self.pattern),
            f"User:{self.principal}",
            "*",
            int(self.operation),
            ALLOW,
            {},
        )


def group_id(db_prefix: str, service: str) -> str:
    """A service's consumer group (`shared.service.ServiceRuntime`)."""
    return f"{db_prefix}.{service}"


def acl_bindings(db_prefix: str, services: Iterable[str] = SERVICES) -> list[AclBinding]:
    """What each service's principal may do, from the access table:

    - Write on the topics it owns and on the dead-letter twins of those it reads;
    - Read on the topics it reads, and on its own consumer group (literal: no service can
      join or commit for another's group);
    - Describe on every contract topic (topic metadata and end offsets: the start-up check
      that the contract's topics exist, without any right to create one);
    - the gateway: Describe on every service's group (the console's consumer lag).

    Read and Write imply Describe on the same topic.
    """
    bindings: set[AclBinding] = set()
    for service in services:
        for topic in writable_by(service):
            bindings.add(AclBinding(service, ResourceType.TOPIC, topic, Operation.WRITE))
        for topic in readable_by(service):
            bindings.add(AclBinding(service, ResourceType.TOPIC, topic, Operation.READ))
        for topic in all_topics():
            bindings.add(AclBinding(service, ResourceType.TOPIC, topic, Operation.DESCRIBE))
        own_group = group_id(db_prefix, service)
        bindings.add(AclBinding(service, ResourceType.GROUP, own_group, Operation.READ))
    if "gateway" in services:
        for service in SERVICES:
            group = group_id(db_prefix, service)
            bindings.add(AclBinding("gateway", ResourceType.GROUP, group, Operation.DESCRIBE))
    return sorted(bindings)


class _CreateAclsResponse(Response):  # type: ignore[misc]
    API_KEY = 30
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _CreateAclsStruct(RequestStruct):  # type: ignore[misc]
    """CreateAcls v3 (flexible): Kafka 4 answers only v2 and newer; aiokafka has v0-v1."""

    FLEXIBLE_VERSION = True
    API_KEY = 30
    API_VERSION = 3
    RESPONSE_TYPE = _CreateAclsResponse
    SCHEMA = Schema(
        (
            "creations",
            CompactArray(
                ("resource_type", Int8),
                ("resource_name", CompactString("utf-8")),
                ("resource_pattern_type", Int8),
                ("principal", CompactString("utf-8")),
                ("host", CompactString("utf-8")),
                ("operation", Int8),
                ("permission_type", Int8),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _CreateAcls(Request[_CreateAclsStruct]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, bindings: list[AclBinding]) -> None:
        self._rows = [binding.row() for binding in bindings]

    def build(self, request_struct_class: type[_CreateAclsStruct]) -> _CreateAclsStruct:
        return request_struct_class(self._rows, {})


class _DescribeAclsResponse(Response):  # type: ignore[misc]
    API_KEY = 29
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("error_message", CompactString("utf-8")),
        (
            "resources",
            CompactArray(
                ("resource_type", Int8),
                ("resource_name", CompactString("utf-8")),
                ("pattern_type", Int8),
                (
                    "acls",
                    CompactArray(
                        ("principal", CompactString("utf-8")),
                        ("host", CompactString("utf-8")),
                        ("operation", Int8),
                        ("permission_type", Int8),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _DescribeAclsStruct(RequestStruct):  # type: ignore[misc]
    """DescribeAcls v3 (flexible), every ACL: resource, pattern, operation and permission ANY."""

    FLEXIBLE_VERSION = True
    API_KEY = 29
    API_VERSION = 3
    RESPONSE_TYPE = _DescribeAclsResponse
    SCHEMA = Schema(
        ("resource_type_filter", Int8),
        ("resource_name_filter", CompactString("utf-8")),
        ("pattern_type_filter", Int8),
        ("principal_filter", CompactString("utf-8")),
        ("host_filter", CompactString("utf-8")),
        ("operation", Int8),
        ("permission_type", Int8),
        ("tags", TaggedFields),
    )


class _DescribeAcls(Request[_DescribeAclsStruct]):  # type: ignore[misc]
    API_KEY = 29

    def build(self, request_struct_class: type[_DescribeAclsStruct]) -> _DescribeAclsStruct:
        return request_struct_class(_ANY, None, _ANY, None, None, _ANY, _ANY, {})


_ANY = 1


class AclError(RuntimeError):
    """The broker refused to create an ACL, or did not apply it in time."""


async def create_acls(
    admin_access: KafkaAccess, bindings: list[AclBinding], *, wait_seconds: float = 30.0
) -> None:
    """Create `bindings` as a super user (creating one that exists is a no-op) and return once
    the broker enforces them all (the controller commits an ACL before the brokers' authorizers
    load it: a client started at once could still be refused). `AclError` names the first
    binding refused, or those still missing after `wait_seconds`."""
    if not bindings:
        return
    admin = AIOKafkaAdminClient(**admin_access.client_options())
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(bindings))
        for binding, (error_code, message, _) in zip(bindings, response.results, strict=True):
            if error_code != 0:
                raise AclError(f"ACL {binding} refused: error {error_code} {message}")
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while missing := set(bindings) - await _enforced(admin):
            if asyncio.get_running_loop().time() > deadline:
                raise AclError(f"{len(missing)} ACLs not enforced, e.g. {min(missing)}")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def _enforced(admin: AIOKafkaAdminClient) -> set[AclBinding]:
    """Every ALLOW binding the broker's authorizer holds now."""
    response = await admin._send_request(_DescribeAcls())
    if response.error_code != 0:
        raise AclError(f"describing ACLs: error {response.error_code} {response.error_message}")
    found: set[AclBinding] = set()
    for resource_type, name, pattern, acls, _ in response.resources:
        for principal, _host, operation, permission, _ in acls:
            if permission == ALLOW and principal.startswith("User:"):
                with contextlib.suppress(ValueError):
                    found.add(
                        AclBinding(
                            principal.removeprefix("User:"),
                            ResourceType(resource_type),
                            name,
                            Operation(operation),
                            PatternType(pattern),
                        )
                    )
    return found
