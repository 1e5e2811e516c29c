"""Checks of `deploy/k8s`: the kustomize build, each manifest against the Kubernetes schema
(`kubernetes-validate`, offline), the Secret template, the Deployments, the topics Job, Services."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]

from deploy.documents import (
    DeployFileError,
    Document,
    as_dict,
    as_list,
    build_kustomization,
    containers,
    dig,
    load_documents,
    split_image,
)
from deploy.k8s_kafka import (
    acls_job_problems,
    admin_job_problems,
    deployment_kafka_problems,
    kafka_secret_problems,
)
from deploy.k8s_workloads import Sources, container_env, deployment_problems
from deploy.spec import PLACEHOLDER, SERVICES
from deploy.topics import TOPICS_CONFIGMAP_NAME, TOPICS_SCRIPT
from deploy.topics_files import script_text_topics, topics_yaml

K8S_VERSION = "1.30"
K8S_DIR = Path("k8s")
SECRET_TEMPLATES = (K8S_DIR / "secret.template.yaml", K8S_DIR / "kafka-secret.template.yaml")
"""Each holds one Secret with placeholders; the real Secrets are created by hand, never applied."""


def check_k8s(root: Path) -> list[str]:
    """Every problem of the kustomization under `root/k8s`, each prefixed with `k8s:`."""
    try:
        documents = build_kustomization(root / K8S_DIR)
        templates = {path: load_documents(root / path) for path in SECRET_TEMPLATES}
    except DeployFileError as exc:
        return [f"k8s: {exc}"]
    secret_documents = [doc for docs in templates.values() for doc in docs]
    problems = schema_problems(documents + secret_documents)
    for path, template in templates.items():
        problems += secret_template_problems(path, template)
    sources = Sources(
        config_maps={_name(d): _strings(d.get("data")) for d in _kind(documents, "ConfigMap")},
        secrets={
            _name(d): _strings(d.get("stringData")) | _strings(d.get("data"))
            for d in _kind(documents + secret_documents, "Secret")
        },
        claims={_name(d) for d in _kind(documents, "PersistentVolumeClaim")},
    )
    deployments = {_name(d): d for d in _kind(documents, "Deployment")}
    problems += kafka_secret_problems(sources)
    for service in SERVICES:
        problems += deployment_problems(service, deployments.get(service), sources)
        if service in deployments:
            problems += deployment_kafka_problems(service, deployments[service], sources)
    problems += topics_job_problems(root, documents, sources)
    jobs = _kind(documents, "Job")
    problems += admin_job_problems(jobs, TOPICS_SCRIPT.name, sources)
    problems += acls_job_problems(jobs, sources)
    problems += service_problems(documents, deployments)
    problems += [
        f"{doc.get('kind')} {_name(doc)}: image {c.get('image')!r} needs a pinned tag"
        for doc in documents
        for c in containers(doc) + containers(doc, init=True)
        if split_image(str(c.get("image", "")))[1] in ("", "latest")
    ]
    return [f"k8s: {problem}" for problem in problems]


def _kind(documents: list[Document], kind: str) -> list[Document]:
    return [doc for doc in documents if doc.get("kind") == kind]


def _name(doc: Document) -> str:
    return str(dig(doc, "metadata", "name"))


def _strings(data: object) -> dict[str, str]:
    return {str(key): str(value) for key, value in as_dict(data).items()}


def schema_problems(documents: list[Document]) -> list[str]:
    return [problem for doc in documents for problem in _schema_problems(json.dumps(doc))]


@cache
def _schema_problems(document_json: str) -> tuple[str, ...]:
    """Problems of one manifest (by its JSON text: loading the schemas is the slow part)."""
    doc = json.loads(document_json)
    where = f"{doc.get('kind')} {_name(doc)}"
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(part) for part in exc.path)
        return (f"{where}: schema: at /{path}: {exc.message}",)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return (f"{where}: {exc.message}",)
    return ()


def secret_template_problems(path: Path, documents: list[Document]) -> list[str]:
    secrets = _kind(documents, "Secret")
    if len(secrets) != 1 or len(documents) != 1:
        return [f"{path.name} must hold exactly one Secret"]
    values = _strings(secrets[0].get("stringData")) | _strings(secrets[0].get("data"))
    return [
        f"{path.name}: {key} holds a value; a template holds {PLACEHOLDER} only"
        for key, value in sorted(values.items())
        if PLACEHOLDER not in value
    ]


def topics_job_problems(root: Path, documents: list[Document], sources: Sources) -> list[str]:
    jobs = [
        job
        for job in _kind(documents, "Job")
        if any(
            any(str(p).endswith(TOPICS_SCRIPT.name) for p in as_list(c.get("command")))
            for c in containers(job)
        )
    ]
    if len(jobs) != 1:
        return [f"exactly one Job must run {TOPICS_SCRIPT}, found {len(jobs)}"]
    job, where = jobs[0], f"Job {_name(jobs[0])}"
    problems = []
    command = [str(p) for c in containers(job) for p in as_list(c.get("command"))]
    if "--wait" in command:
        problems.append(f"{where}: must create the topics, not --wait")
    volumes = as_list(dig(job, "spec", "template", "spec", "volumes"))
    if not any(dig(v, "configMap", "name") == TOPICS_CONFIGMAP_NAME for v in volumes):
        problems.append(f"{where}: must mount the ConfigMap {TOPICS_CONFIGMAP_NAME}")
    for container in containers(job):
        env = container_env(container, sources)
        problems += [f"{where}: {problem}" for problem in env.problems]
        if "KAFKA_BOOTSTRAP_SERVERS" not in env.values:
            problems.append(f"{where}: env lacks KAFKA_BOOTSTRAP_SERVERS")
    script = sources.config_maps.get(TOPICS_CONFIGMAP_NAME, {}).get(TOPICS_SCRIPT.name, "")
    try:
        wanted, _ = topics_yaml(root)
    except DeployFileError as exc:
        return [*problems, str(exc)]
    created = script_text_topics(script)
    for name in sorted(set(wanted) | set(created)):
        if created.get(name) != wanted.get(name):
            problems.append(
                f"ConfigMap {TOPICS_CONFIGMAP_NAME}: topic {name} is {created.get(name)}, "
                f"{wanted.get(name)} in topics.yaml"
            )
    return problems


def service_problems(documents: list[Document], deployments: dict[str, Document]) -> list[str]:
    """The gateway has a Service on its HTTP port; every other service one on its metrics port."""
    problems = []
    services = _kind(documents, "Service")
    for name, deployment in sorted(deployments.items()):
        labels = as_dict(dig(deployment, "spec", "template", "metadata", "labels"))
        main = next((c for c in containers(deployment) if c.get("name") == name), {})
        port_names = {
            str(p.get("name")): p.get("containerPort")
            for p in map(as_dict, as_list(main.get("ports")))
        }
        wanted = "http" if name == "gateway" else "metrics"
        selecting = [
            service
            for service in services
            if as_dict(dig(service, "spec", "selector"))
            and as_dict(dig(service, "spec", "selector")).items() <= labels.items()
        ]
        targets = {
            as_dict(port).get("targetPort")
            for service in selecting
            for port in as_list(dig(service, "spec", "ports"))
        }
        if wanted not in targets and port_names.get(wanted) not in targets:
            problems.append(f"Deployment {name}: no Service targets its {wanted} port")
    return problems
