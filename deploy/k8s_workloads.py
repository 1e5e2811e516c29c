"""Checks of the five Deployments: command, environment from ConfigMaps and the Secret, probes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploy.acls import ACLS_SCRIPT
from deploy.documents import Document, as_dict, as_list, containers, dig, split_image
from deploy.settings_check import check_service_env, service_module_exists
from deploy.spec import (
    HEALTH_PATH,
    LISTEN_ALL,
    METRICS_PATH,
    OUR_IMAGE,
    READY_PATH,
    REQUIRED_ENV,
    SECRET_ENV,
)


@dataclass
class Sources:
    """What the manifests make available to a pod: ConfigMaps and Secrets by name."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    claims: set[str] = field(default_factory=set)


@dataclass
class PodEnv:
    values: dict[str, str] = field(default_factory=dict)
    from_secret: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def container_env(container: dict[str, Any], sources: Sources) -> PodEnv:
    """The environment a container gets (ConfigMap and Secret references resolved)."""
    env = PodEnv()
    for ref in as_list(container.get("envFrom")):
        for kind, store in (("configMapRef", sources.config_maps), ("secretRef", sources.secrets)):
            name = dig(ref, kind, "name")
            if name is None:
                continue
            if name not in store:
                env.problems.append(f"envFrom {kind} {name} does not exist")
                continue
            env.values.update(store[name])
            if kind == "secretRef":
                env.from_secret |= set(store[name])
    for entry in (as_dict(e) for e in as_list(container.get("env"))):
        name = str(entry.get("name"))
        if "value" in entry:
            env.values[name] = str(entry["value"])
            continue
        for kind, store in (
            ("configMapKeyRef", sources.config_maps),
            ("secretKeyRef", sources.secrets),
        ):
            ref = as_dict(dig(entry, "valueFrom", kind))
            if not ref:
                continue
            value = store.get(str(ref.get("name")), {}).get(str(ref.get("key")))
            if value is None:
                env.problems.append(
                    f"{name}: {kind} {ref.get('name')}/{ref.get('key')} does not exist"
                )
                continue
            env.values[name] = value
            if kind == "secretKeyRef":
                env.from_secret.add(name)
    return env


def _port_number(container: dict[str, Any], port: object) -> int | None:
    if isinstance(port, int):
        return port
    for entry in (as_dict(p) for p in as_list(container.get("ports"))):
        if entry.get("name") == port and isinstance(entry.get("containerPort"), int):
            return int(entry["containerPort"])
    return None


def probe_problems(service: str, container: dict[str, Any], env: dict[str, str]) -> list[str]:
    where = f"Deployment {service}"
    if service == "gateway":
        port = int(env.get("CRYPTOORCH_GATEWAY_PORT", "0") or 0)
        wanted = {"livenessProbe": HEALTH_PATH, "readinessProbe": READY_PATH}
    else:
        port = int(env.get("CRYPTOORCH_METRICS_PORT", "0") or 0)
        wanted = {"livenessProbe": METRICS_PATH, "readinessProbe": METRICS_PATH}
    problems = []
    for kind, path in wanted.items():
        probe = as_dict(container.get(kind))
        http = as_dict(probe.get("httpGet"))
        command = " ".join(str(part) for part in as_list(dig(probe, "exec", "command")))
        if http:
            if http.get("path") != path or _port_number(container, http.get("port")) != port:
                problems.append(f"{where}: {kind} must GET {path} on port {port}")
        elif service == "gateway" or path not in command:
            problems.append(f"{where}: {kind} must request {path}")
    return problems


def deployment_problems(service: str, doc: Document | None, sources: Sources) -> list[str]:
    where = f"Deployment {service}"
    if doc is None:
        return [f"{where} is missing"]
    problems: list[str] = []
    selector = as_dict(dig(doc, "spec", "selector", "matchLabels"))
    labels = as_dict(dig(doc, "spec", "template", "metadata", "labels"))
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"{where}: the pod labels do not match the selector")
    main = next((c for c in containers(doc) if c.get("name") == service), None)
    if main is None:
        return [*problems, f"{where}: no container named {service}"]
    command = [str(part) for part in as_list(main.get("command"))]
    module = f"services.{service}"
    if command[:2] != ["python", "-m"] or command[2:] != [module]:
        problems.append(f"{where}: command must be python -m {module}")
    elif not service_module_exists(module):
        problems.append(f"{where}: runs {module}, which is not a module of this project")
    if split_image(str(main.get("image", "")))[0] != OUR_IMAGE:
        problems.append(f"{where}: image must be the project's ({OUR_IMAGE})")
    env = container_env(main, sources)
    problems += [f"{where}: {problem}" for problem in env.problems]
    problems += [
        f"{where}: env lacks {name}" for name in REQUIRED_ENV[service] if name not in env.values
    ]
    problems += [
        f"{where}: {name} must come from a Secret"
        for name in sorted(SECRET_ENV & set(env.values))
        if name not in env.from_secret
    ]
    problems += [
        f"{where}: {name} must be {value} in a container"
        for name, value in LISTEN_ALL.items()
        if name in env.values and env.values[name] != value
    ]
    problems += check_service_env(where, service, env.values)
    problems += probe_problems(service, main, env.values)
    problems += port_problems(service, main, env.values)
    problems += volume_problems(where, doc, sources)
    if not any(_waits_for_grants(c, service) for c in containers(doc, init=True)):
        problems.append(
            f"{where}: needs the init container running {ACLS_SCRIPT} --wait {service} "
            "(the topics exist and the service may use them)"
        )
    return problems


def port_problems(service: str, container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The named container port (`http` / `metrics`) is the one the process listens on."""
    name, setting = (
        ("http", "CRYPTOORCH_GATEWAY_PORT")
        if service == "gateway"
        else ("metrics", "CRYPTOORCH_METRICS_PORT")
    )
    listening = env.get(setting, "")
    if str(_port_number(container, name)) != listening:
        return [f"Deployment {service}: container port {name} must be {setting} ({listening})"]
    return []


def _waits_for_grants(container: dict[str, Any], service: str) -> bool:
    command = [str(part) for part in as_list(container.get("command"))]
    return command[-2:] == ["--wait", service] and any(
        p.endswith(ACLS_SCRIPT.name) for p in command
    )


def volume_problems(where: str, doc: Document, sources: Sources) -> list[str]:
    problems = []
    for volume in (as_dict(v) for v in as_list(dig(doc, "spec", "template", "spec", "volumes"))):
        config_map = dig(volume, "configMap", "name")
        claim = dig(volume, "persistentVolumeClaim", "claimName")
        if config_map is not None and config_map not in sources.config_maps:
            problems.append(f"{where}: volume uses ConfigMap {config_map}, which does not exist")
        if claim is not None and claim not in sources.claims:
            problems.append(f"{where}: volume uses claim {claim}, which does not exist")
    return problems
