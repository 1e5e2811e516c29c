"""`python -m deploy.validate` passes on the committed files and names what a broken copy breaks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import validate as validate_module
from deploy.topics import DEPLOY_ROOT
from deploy.validate import validate

Documents = list[dict[str, Any]]


@pytest.fixture
def deploy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY_ROOT, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def edit_yaml(path: Path, change: Callable[[Documents], None]) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    change(documents)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def edit_compose(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    edit_yaml(root / "compose.yaml", lambda docs: change(docs[0]))


def container(documents: Documents) -> dict[str, Any]:
    return documents[0]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def problems_mentioning(root: Path, *words: str) -> list[str]:
    return [p for p in validate(root) if all(word in p for word in words)]


def test_the_committed_deployment_files_are_consistent() -> None:
    assert validate() == []


def test_main_exits_zero_here_and_one_on_a_broken_copy(
    deploy_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate_module.main([]) == 0

    (deploy_copy / "compose.yaml").write_text("services: [")

    assert validate_module.main([str(deploy_copy)]) == 1
    assert "compose.yaml" in capsys.readouterr().err


def test_compose_without_the_audit_service_is_refused(deploy_copy: Path) -> None:
    edit_compose(deploy_copy, lambda compose: compose["services"].pop("audit"))

    assert problems_mentioning(deploy_copy, "service audit is missing")


def test_compose_running_a_module_that_does_not_exist_is_refused(deploy_copy: Path) -> None:
    def rename(compose: dict[str, Any]) -> None:
        compose["services"]["ledger"]["command"] = ["python", "-m", "services.ledgr"]

    edit_compose(deploy_copy, rename)

    assert problems_mentioning(deploy_copy, "service ledger", "python -m services.ledger")


def test_a_fixed_container_name_is_refused_because_it_prevents_scaling(deploy_copy: Path) -> None:
    edit_compose(deploy_copy, lambda c: c["services"]["safety"].update(container_name="safety"))

    assert problems_mentioning(deploy_copy, "service safety", "--scale")


def test_a_secret_written_into_compose_is_refused(deploy_copy: Path) -> None:
    def hard_code(compose: dict[str, Any]) -> None:
        compose["services"]["gateway"]["environment"]["CRYPTOORCH_JWT_SECRET"] = "x" * 40

    edit_compose(deploy_copy, hard_code)

    assert problems_mentioning(deploy_copy, "CRYPTOORCH_JWT_SECRET", "deploy/.env")


def test_a_key_unknown_to_the_compose_specification_is_refused(deploy_copy: Path) -> None:
    edit_compose(deploy_copy, lambda c: c["services"]["postgres"].update(restart_policy="always"))

    assert problems_mentioning(deploy_copy, "schema", "/services/postgres", "restart_policy")


def test_prometheus_not_scraping_a_service_is_refused(deploy_copy: Path) -> None:
    def drop_safety(documents: Documents) -> None:
        jobs = documents[0]["scrape_configs"]
        documents[0]["scrape_configs"] = [j for j in jobs if j["job_name"] != "safety"]

    edit_yaml(deploy_copy / "prometheus.yml", drop_safety)

    assert problems_mentioning(deploy_copy, "no job scrapes safety:9100/metrics")


def test_two_kafka_brokers_are_refused(deploy_copy: Path) -> None:
    edit_compose(deploy_copy, lambda compose: compose["services"].pop("kafka-3"))

    assert problems_mentioning(deploy_copy, "2 Kafka brokers")


def test_a_hand_edited_topics_script_is_refused(deploy_copy: Path) -> None:
    script = deploy_copy / "create-topics.sh"
    script.write_text(script.read_text().replace("ledger.events.v1 8 3", "ledger.events.v1 4 3"))

    assert problems_mentioning(deploy_copy, "create-topics.sh: stale")
    assert problems_mentioning(deploy_copy, "topics-init", "ledger.events.v1", "4 partitions")


def test_a_gateway_readiness_probe_on_the_wrong_path_is_refused(deploy_copy: Path) -> None:
    def wrong_path(documents: Documents) -> None:
        container(documents)["readinessProbe"]["httpGet"]["path"] = "/ready"

    edit_yaml(deploy_copy / "k8s" / "gateway.yaml", wrong_path)

    assert problems_mentioning(deploy_copy, "Deployment gateway", "readinessProbe", "/readyz")


def test_a_service_without_liveness_probe_is_refused(deploy_copy: Path) -> None:
    edit_yaml(deploy_copy / "k8s" / "ledger.yaml", lambda d: container(d).pop("livenessProbe"))

    assert problems_mentioning(deploy_copy, "Deployment ledger", "livenessProbe", "/metrics")


def test_a_deployment_missing_a_key_of_the_secret_is_refused(deploy_copy: Path) -> None:
    def drop_jwt(documents: Documents) -> None:
        env = container(documents)["env"]
        container(documents)["env"] = [e for e in env if e["name"] != "CRYPTOORCH_JWT_SECRET"]

    edit_yaml(deploy_copy / "k8s" / "gateway.yaml", drop_jwt)

    assert problems_mentioning(deploy_copy, "Deployment gateway", "lacks CRYPTOORCH_JWT_SECRET")


def test_a_reference_to_a_key_the_secret_does_not_have_is_refused(deploy_copy: Path) -> None:
    def misname(documents: Documents) -> None:
        for entry in container(documents)["env"]:
            if entry["name"] == "CRYPTOORCH_EXCHANGE_SEAL_KEY":
                entry["valueFrom"]["secretKeyRef"]["key"] = "SEAL_KEY"

    edit_yaml(deploy_copy / "k8s" / "execution.yaml", misname)

    assert problems_mentioning(deploy_copy, "Deployment execution", "SEAL_KEY does not exist")


def test_a_misspelt_limit_in_a_config_map_is_refused(deploy_copy: Path) -> None:
    path = deploy_copy / "k8s" / "configmaps.yaml"
    path.write_text(path.read_text().replace("MIN_NOTIONAL_USD", "MIN_NOTIONAL"))

    assert problems_mentioning(deploy_copy, "CRYPTOORCH_MIN_NOTIONAL is no setting", "safety")


def test_a_limit_the_service_cannot_parse_is_refused(deploy_copy: Path) -> None:
    path = deploy_copy / "k8s" / "configmaps.yaml"
    path.write_text(path.read_text().replace('PRICE_BAND: "0.10"', 'PRICE_BAND: "ten"'))

    assert problems_mentioning(deploy_copy, "services.safety rejects its settings", "price_band")


def test_a_manifest_violating_the_kubernetes_schema_is_refused(deploy_copy: Path) -> None:
    edit_yaml(deploy_copy / "k8s" / "safety.yaml", lambda d: d[0]["spec"].update(replicas="two"))

    assert problems_mentioning(deploy_copy, "Deployment safety", "schema", "/spec/replicas")


def test_a_real_value_in_the_secret_template_is_refused(deploy_copy: Path) -> None:
    def fill(documents: Documents) -> None:
        documents[0]["stringData"]["CRYPTOORCH_JWT_SECRET"] = "s3cr3t-" * 6

    edit_yaml(deploy_copy / "k8s" / "secret.template.yaml", fill)

    assert problems_mentioning(deploy_copy, "CRYPTOORCH_JWT_SECRET holds a value")


def test_a_deployment_that_does_not_wait_for_the_topics_is_refused(deploy_copy: Path) -> None:
    def no_init(documents: Documents) -> None:
        documents[0]["spec"]["template"]["spec"].pop("initContainers")

    edit_yaml(deploy_copy / "k8s" / "audit.yaml", no_init)

    assert problems_mentioning(deploy_copy, "Deployment audit", "--wait")


def test_a_kustomization_field_the_python_build_does_not_know_is_refused(
    deploy_copy: Path,
) -> None:
    edit_yaml(deploy_copy / "k8s" / "kustomization.yaml", lambda d: d[0].update(patches=[]))

    assert problems_mentioning(deploy_copy, "patches not understood")


def test_an_image_running_as_root_is_refused(deploy_copy: Path) -> None:
    dockerfile = deploy_copy / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER ${UID}:${UID}", "USER root"))

    assert problems_mentioning(deploy_copy, "Dockerfile", "non-root USER")


def test_an_image_that_installs_the_dev_lock_is_refused(deploy_copy: Path) -> None:
    dockerfile = deploy_copy / "Dockerfile"
    text = dockerfile.read_text().replace(
        "pip install -r requirements.lock", "pip install -r requirements-dev.lock"
    )
    dockerfile.write_text(text)

    assert problems_mentioning(deploy_copy, "Dockerfile", "requirements-dev.lock")


def test_a_service_given_another_services_kafka_password_is_refused(deploy_copy: Path) -> None:
    def swap(compose: dict[str, Any]) -> None:
        env = compose["services"]["safety"]["environment"]
        env["CRYPTOORCH_KAFKA_PASSWORD"] = "${KAFKA_LEDGER_PASSWORD:?set it}"

    edit_compose(deploy_copy, swap)

    assert problems_mentioning(deploy_copy, "service safety", "KAFKA_SAFETY_PASSWORD")
    assert problems_mentioning(deploy_copy, "service safety", "another principal's password")


def test_a_broker_that_lets_everyone_in_without_acls_is_refused(deploy_copy: Path) -> None:
    def open_up(compose: dict[str, Any]) -> None:
        compose["services"]["kafka-2"]["environment"]["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] = (
            "true"
        )

    edit_compose(deploy_copy, open_up)

    assert problems_mentioning(deploy_copy, "service kafka-2", "ALLOW_EVERYONE", "false")


def test_a_broker_listener_without_authentication_is_refused(deploy_copy: Path) -> None:
    def plaintext(compose: dict[str, Any]) -> None:
        env = compose["services"]["kafka-1"]["environment"]
        env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] = env[
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"
        ].replace("CLIENT:SASL_PLAINTEXT", "CLIENT:PLAINTEXT")

    edit_compose(deploy_copy, plaintext)

    assert problems_mentioning(deploy_copy, "service kafka-1", "listener CLIENT is PLAINTEXT")


def test_a_deployment_reading_another_services_kafka_key_is_refused(deploy_copy: Path) -> None:
    def other_key(documents: Documents) -> None:
        for entry in container(documents)["env"]:
            if entry["name"] == "CRYPTOORCH_KAFKA_PASSWORD":
                entry["valueFrom"]["secretKeyRef"]["key"] = "gateway"

    edit_yaml(deploy_copy / "k8s" / "ledger.yaml", other_key)

    assert problems_mentioning(deploy_copy, "Deployment ledger", "reads gateway", "own Kafka")


def test_a_kafka_password_written_into_the_secret_template_is_refused(deploy_copy: Path) -> None:
    def fill(documents: Documents) -> None:
        documents[0]["stringData"]["audit"] = "hunter2-hunter2"

    edit_yaml(deploy_copy / "k8s" / "kafka-secret.template.yaml", fill)

    assert problems_mentioning(deploy_copy, "kafka-secret.template.yaml", "audit holds a value")


def test_an_acl_job_configmap_granting_more_than_the_table_is_refused(deploy_copy: Path) -> None:
    path = deploy_copy / "k8s" / "acls-configmap.yaml"
    path.write_text(path.read_text().replace("gateway group Read", "gateway group Read,Delete", 1))

    assert problems_mentioning(
        deploy_copy, "ConfigMap cryptoorch-acls", "Delete on group cryptoorch.gateway"
    )
