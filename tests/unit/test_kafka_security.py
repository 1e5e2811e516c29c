"""The secured broker's properties, storage arguments, client options and ACL table (pure)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.contracts.access import SERVICES, readable_by, writable_by
from shared.contracts.topics import Topic, all_topics
from shared.infra.kafka_acls import AclBinding, Operation, ResourceType, acl_bindings
from shared.infra.kafka_security import BrokerSecurity
from shared.kafka_access import KafkaAccess
from shared.settings import CommonSettings


def test_the_broker_authenticates_every_listener_and_refuses_what_no_acl_allows() -> None:
    security = BrokerSecurity.generate()
    props = security.server_properties(9092, 9093)
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert props["listeners"] == "CLIENT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:admin"
    assert security.password("broker") in props["listener.name.controller.plain.sasl.jaas.config"]


def test_every_principal_is_a_scram_user_from_the_first_start() -> None:
    security = BrokerSecurity({"broker": "b", "admin": "a", "ledger": "l"})
    assert security.format_args() == [
        "--add-scram",
        "SCRAM-SHA-512=[name=admin,password=a]",
        "--add-scram",
        "SCRAM-SHA-512=[name=broker,password=b]",
        "--add-scram",
        "SCRAM-SHA-512=[name=ledger,password=l]",
    ]


def test_a_password_that_would_break_the_format_arguments_is_refused() -> None:
    with pytest.raises(ValueError, match="admin"):
        BrokerSecurity({"broker": "b", "admin": "a,b"})
    with pytest.raises(ValueError, match="admin"):
        BrokerSecurity({"broker": "b"})


def test_passwords_are_kept_per_data_folder_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = BrokerSecurity.load_or_create(tmp_path)
    assert set(first.passwords) == {"broker", "admin", *SERVICES}
    assert BrokerSecurity.load_or_create(tmp_path) == first
    mode = (tmp_path / "kafka-credentials.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert first.password("ledger") not in repr(first)


def test_each_service_may_write_only_what_it_owns_and_read_what_it_consumes() -> None:
    bindings = acl_bindings("cryptoorch")

    def topics(service: str, operation: Operation) -> set[str]:
        return {
            b.resource_name
            for b in bindings
            if b.principal == service
            and b.resource_type is ResourceType.TOPIC
            and b.operation is operation
        }

    for service in SERVICES:
        assert topics(service, Operation.WRITE) == set(writable_by(service))
        assert topics(service, Operation.READ) == set(readable_by(service))
        assert topics(service, Operation.DESCRIBE) == set(all_topics())
        assert AclBinding(service, ResourceType.GROUP, f"cryptoorch.{service}", Operation.READ) in (
            bindings
        )
    assert Topic.LEDGER_EVENTS.value not in topics("gateway", Operation.WRITE)
    assert Topic.ORDER_COMMANDS.value in topics("gateway", Operation.WRITE)
    assert {
        b.resource_name
        for b in bindings
        if b.operation is Operation.READ
        and b.resource_type is ResourceType.GROUP
        and b.principal == "ledger"
    } == {"cryptoorch.ledger"}
    assert not any(b.resource_type is ResourceType.CLUSTER for b in bindings)


def test_the_client_options_carry_the_credentials_and_the_repr_hides_the_password() -> None:
    plain = KafkaAccess("127.0.0.1:9092")
    assert plain.client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    secured = CommonSettings(
        KAFKA_BOOTSTRAP_SERVERS="k:9092",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_username="ledger",
        kafka_password="s3cret",
    )
    options = secured.kafka_access.client_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("ledger", "s3cret")
    assert "s3cret" not in repr(secured) + repr(secured.kafka_access) + str(secured.kafka_access)


def test_sasl_without_credentials_fails_closed() -> None:
    with pytest.raises(ValueError, match="username and a password"):
        KafkaAccess("k:9092", security_protocol="SASL_PLAINTEXT")
    settings = CommonSettings(
        KAFKA_BOOTSTRAP_SERVERS="k:9092",
        DATABASE_URL="postgresql://x/y",
        kafka_security_protocol="SASL_PLAINTEXT",
    )
    with pytest.raises(SystemExit, match="CRYPTOORCH_KAFKA_USERNAME"):
        settings.require_infrastructure()


def test_the_cli_uses_the_admin_credentials_up_recorded_in_a_file_only_its_owner_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoorch import runtime_info

    monkeypatch.setenv("CRYPTOORCH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("CRYPTOORCH_KAFKA_SECURITY_PROTOCOL", raising=False)
    security = BrokerSecurity.generate()
    admin = security.access("127.0.0.1:9092", "admin")
    runtime_info.write_runtime(
        {
            "kafka_bootstrap_servers": admin.bootstrap_servers,
            "kafka_access": {
                "security_protocol": admin.security_protocol,
                "username": admin.username,
                "password": admin.password,
            },
        }
    )
    assert stat.S_IMODE(runtime_info.runtime_file().stat().st_mode) == 0o600
    assert runtime_info.kafka_access() == admin


def test_a_cli_redrive_goes_back_through_a_service_allowed_to_write_the_topic() -> None:
    from shared.contracts.access import redriver_of

    assert redriver_of(Topic.EXECUTION_EVENTS.value, parked_by="ledger") == "execution"
    assert redriver_of(Topic.ACCOUNT_EVENTS.value, parked_by="safety") == "safety"
    assert redriver_of(Topic.ACCOUNT_EVENTS.value, parked_by="ledger") == "gateway"
    assert redriver_of("test.x.v1", parked_by="ledger") == "ledger"
