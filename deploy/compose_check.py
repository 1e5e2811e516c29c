"""Checks of `deploy/compose.yaml`: the Compose specification schema, then our five services."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]

from deploy import compose_infra
from deploy.compose_model import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    Compose,
    interpolate,
    required_variables,
)
from deploy.documents import DeployFileError, as_list, dig
from deploy.settings_check import check_service_env, service_module_exists
from deploy.spec import (
    HEALTH_PATH,
    LISTEN_ALL,
    METRICS_PATH,
    OUR_IMAGE,
    PLACEHOLDER,
    READY_PATH,
    REQUIRED_ENV,
    SECRET_ENV,
    SERVICES,
)

SCHEMA = Path("schemas/compose-spec.json")


def check_compose(root: Path) -> list[str]:
    """Every problem of `root/compose.yaml`, each prefixed with the file name."""
    try:
        compose = Compose.load(root)
    except DeployFileError as exc:
        return [str(exc)]
    problems = schema_problems(root, compose)
    problems += env_example_problems(compose)
    for service in SERVICES:
        problems += service_problems(compose, service)
    problems += compose_infra.check(compose)
    return [f"{COMPOSE_FILE}: {problem}" for problem in problems]


def schema_problems(root: Path, compose: Compose) -> list[str]:
    try:
        schema = json.loads((root / SCHEMA).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"cannot read the Compose schema {SCHEMA}: {exc}"]
    validator = jsonschema.Draft201909Validator(schema)
    return [
        f"schema: at /{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(compose.document), key=str)
    ]


def env_example_problems(compose: Compose) -> list[str]:
    """Every `${X:?}` variable is listed in env.example, with a placeholder, never a value."""
    needed: set[str] = set()
    for service in compose.services:
        for value in compose.raw_env(service).values():
            needed |= required_variables(value)
    problems = [
        f"{name} is required but not listed in {ENV_EXAMPLE}"
        for name in sorted(needed - set(compose.variables))
    ]
    problems += [
        f"{ENV_EXAMPLE}: {name} must be the placeholder {PLACEHOLDER}, not a value"
        for name in sorted(needed & set(compose.variables))
        if compose.variables[name] != PLACEHOLDER
    ]
    return problems


def our_service_module(compose: Compose, service: str) -> str | None:
    """`services.X` when the compose service runs `python -m services.X`."""
    command = compose.command(service)
    if len(command) == 3 and command[0].startswith("python") and command[1] == "-m":
        return command[2]
    return None


def service_problems(compose: Compose, service: str) -> list[str]:
    body = compose.services.get(service)
    if body is None:
        return [f"service {service} is missing (every service of cryptoorch must run)"]
    where = f"service {service}"
    problems: list[str] = []
    module = our_service_module(compose, service)
    if module != f"services.{service}":
        problems.append(f"{where}: command must be python -m services.{service}, not {module}")
    elif not service_module_exists(module):
        problems.append(f"{where}: runs {module}, which is not a module of this project")
    if not compose.image(service).startswith(f"{OUR_IMAGE}:"):
        problems.append(f"{where}: image must be the project's ({OUR_IMAGE}:TAG)")
    if dig(body, "build", "dockerfile") != "deploy/Dockerfile":
        problems.append(f"{where}: must be built from deploy/Dockerfile")
    if "container_name" in body:
        problems.append(f"{where}: container_name prevents --scale")
    if body.get("ports") and service != "gateway":
        problems.append(f"{where}: a host port prevents --scale (only the gateway publishes one)")
    depends = compose.depends_on(service)
    if depends.get("topics-init") != "service_completed_successfully":
        problems.append(f"{where}: must depend on topics-init (service_completed_successfully)")
    if depends.get("postgres") != "service_healthy":
        problems.append(f"{where}: must depend on postgres (service_healthy)")
    problems += env_problems(compose, service)
    problems += healthcheck_problems(compose, service)
    if service == "gateway":
        problems += gateway_port_problems(compose)
    return problems


def gateway_port_problems(compose: Compose) -> list[str]:
    """The published port must lead to the port the gateway listens on."""
    port = compose.env("gateway").get("CRYPTOORCH_GATEWAY_PORT", "")
    targets = set()
    for entry in as_list(compose.services["gateway"].get("ports")):
        if isinstance(entry, dict):
            targets.add(str(entry.get("target")))
        else:
            published = interpolate(str(entry), compose.variables)
            targets.add(published.rsplit(":", 1)[-1].split("/")[0])
    if port not in targets:
        return [f"service gateway: publishes {sorted(targets)}, but listens on {port or '?'}"]
    return []


def env_problems(compose: Compose, service: str) -> list[str]:
    where = f"service {service}"
    raw, env = compose.raw_env(service), compose.env(service)
    problems = [
        f"{where}: environment lacks {name}" for name in REQUIRED_ENV[service] if name not in env
    ]
    for name in sorted(SECRET_ENV & set(raw)):
        if not required_variables(raw[name]):
            problems.append(f"{where}: {name} must come from deploy/.env as ${{VAR:?...}}")
    for name, value in LISTEN_ALL.items():
        if name in env and env[name] != value:
            problems.append(f"{where}: {name} must be {value} in a container")
    problems += check_service_env(where, service, env)
    return problems


def healthcheck_problems(compose: Compose, service: str) -> list[str]:
    test = " ".join(
        str(part) for part in as_list(dig(compose.services[service], "healthcheck", "test"))
    )
    wanted = (READY_PATH, HEALTH_PATH) if service == "gateway" else (METRICS_PATH,)
    if not any(path in test for path in wanted):
        return [f"service {service}: healthcheck must request {' or '.join(wanted)}"]
    return []
