"""Checks of Kafka's credentials and ACLs in `deploy/k8s`: each pod authenticates as its own
principal with its own key of the Secret `cryptoorch-kafka`, and the ACL Job grants exactly the
access table of `shared/contracts/access.py`."""

from __future__ import annotations

from typing import Any

from deploy.acls import (
    ACLS_CONFIGMAP_NAME,
    ACLS_SCRIPT,
    ADMIN,
    GROUP_PREFIX,
    PRINCIPALS,
    acl_differences,
    script_text_acls,
)
from deploy.documents import Document, as_dict, as_list, containers, dig
from deploy.k8s_workloads import Sources, container_env
from deploy.spec import SASL_MECHANISM, SASL_PROTOCOLS

KAFKA_SECRET = "cryptoorch-kafka"  # noqa: S105 (the Secret's name, not a password)
KAFKA_SECRET_KEYS = frozenset({ADMIN, *PRINCIPALS})


def kafka_secret_problems(sources: Sources) -> list[str]:
    keys = set(sources.secrets.get(KAFKA_SECRET, {}))
    if keys != KAFKA_SECRET_KEYS:
        return [f"Secret {KAFKA_SECRET} must hold {', '.join(sorted(KAFKA_SECRET_KEYS))}"]
    return []


def _secret_keys_used(container: dict[str, Any]) -> set[str]:
    """Keys of the Kafka Secret a container references (`*` for the whole Secret)."""
    used = {
        "*"
        for ref in as_list(container.get("envFrom"))
        if dig(ref, "secretRef", "name") == KAFKA_SECRET
    }
    for entry in map(as_dict, as_list(container.get("env"))):
        ref = as_dict(dig(entry, "valueFrom", "secretKeyRef"))
        if ref.get("name") == KAFKA_SECRET:
            used.add(str(ref.get("key")))
    return used


def credential_problems(
    where: str, container: dict[str, Any], principal: str, sources: Sources
) -> list[str]:
    """`container` authenticates over SASL/SCRAM as `principal`, with `principal`'s key only."""
    name = f"{where}: container {container.get('name')}"
    env = container_env(container, sources)
    problems = []
    if env.values.get("CRYPTOORCH_KAFKA_USERNAME") != principal:
        problems.append(f"{name}: CRYPTOORCH_KAFKA_USERNAME must be {principal}")
    password = next(
        (
            as_dict(dig(entry, "valueFrom", "secretKeyRef"))
            for entry in map(as_dict, as_list(container.get("env")))
            if entry.get("name") == "CRYPTOORCH_KAFKA_PASSWORD"
        ),
        {},
    )
    if password.get("name") != KAFKA_SECRET or password.get("key") != principal:
        problems.append(
            f"{name}: CRYPTOORCH_KAFKA_PASSWORD must come from Secret {KAFKA_SECRET}, "
            f"key {principal}"
        )
    if env.values.get("CRYPTOORCH_KAFKA_SECURITY_PROTOCOL") not in SASL_PROTOCOLS:
        problems.append(f"{name}: CRYPTOORCH_KAFKA_SECURITY_PROTOCOL must be SASL_*")
    if env.values.get("CRYPTOORCH_KAFKA_SASL_MECHANISM") != SASL_MECHANISM:
        problems.append(f"{name}: CRYPTOORCH_KAFKA_SASL_MECHANISM must be {SASL_MECHANISM}")
    return problems


def deployment_kafka_problems(service: str, doc: Document, sources: Sources) -> list[str]:
    """Every container of the pod (init containers too) talks to Kafka as `service`, with the
    credentials of `service` only."""
    where = f"Deployment {service}"
    problems = []
    pod = containers(doc, init=True) + containers(doc)
    for container in pod:
        used = _secret_keys_used(container)
        if used - {service}:
            problems.append(
                f"{where}: container {container.get('name')} reads "
                f"{', '.join(sorted(used - {service}))} of Secret {KAFKA_SECRET}: "
                f"a service gets its own Kafka credentials only"
            )
        problems += credential_problems(where, container, service, sources)
    for volume in map(as_dict, as_list(dig(doc, "spec", "template", "spec", "volumes"))):
        if dig(volume, "secret", "secretName") == KAFKA_SECRET:
            problems.append(f"{where}: mounts the whole Secret {KAFKA_SECRET}")
    prefix = container_env(
        next((c for c in containers(doc) if c.get("name") == service), {}), sources
    ).values.get("CRYPTOORCH_DB_PREFIX", GROUP_PREFIX)
    if prefix != GROUP_PREFIX:
        problems.append(
            f"{where}: CRYPTOORCH_DB_PREFIX {prefix} names consumer groups the ACLs do not "
            f"grant ({GROUP_PREFIX}.<service>, deploy/acls.py)"
        )
    return problems


def _runs(container: dict[str, Any], script: str) -> list[str] | None:
    command = [str(part) for part in as_list(container.get("command"))]
    return command if any(p.endswith(script) for p in command) else None


def admin_job_problems(jobs: list[Document], script: str, sources: Sources) -> list[str]:
    """Every container of the Jobs running `script` authenticates as `admin`."""
    return [
        problem
        for job in jobs
        for container in containers(job, init=True) + containers(job)
        if _runs(container, script) is not None
        for problem in credential_problems(
            f"Job {dig(job, 'metadata', 'name')}", container, ADMIN, sources
        )
    ]


def acls_job_problems(jobs: list[Document], sources: Sources) -> list[str]:
    granting = [
        job
        for job in jobs
        if any(
            (command := _runs(c, ACLS_SCRIPT.name)) is not None
            and "--wait" not in command
            and "--users" not in command
            for c in containers(job)
        )
    ]
    if len(granting) != 1:
        return [f"exactly one Job must run {ACLS_SCRIPT} (grant), found {len(granting)}"]
    job = granting[0]
    where = f"Job {dig(job, 'metadata', 'name')}"
    problems = admin_job_problems([job], ACLS_SCRIPT.name, sources)
    volumes = as_list(dig(job, "spec", "template", "spec", "volumes"))
    if not any(dig(v, "configMap", "name") == ACLS_CONFIGMAP_NAME for v in volumes):
        problems.append(f"{where}: must mount the ConfigMap {ACLS_CONFIGMAP_NAME}")
    script = sources.config_maps.get(ACLS_CONFIGMAP_NAME, {}).get(ACLS_SCRIPT.name, "")
    granted = script_text_acls(script)
    return problems + acl_differences(granted, f"ConfigMap {ACLS_CONFIGMAP_NAME}")
