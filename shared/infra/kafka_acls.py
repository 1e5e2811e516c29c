"""The ACLs of a secured broker: `acl_bindings` turns `shared.contracts.access` into what each
service's principal may do, and `create_acls` sends them as a super user (aiokafka's protocol
types: no other client library at run time; aiokafka's own CreateAcls/DescribeAcls are versions
0-1, which Kafka 4 no longer accepts, so versions 3 are written here) and waits until the broker
enforces them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
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
