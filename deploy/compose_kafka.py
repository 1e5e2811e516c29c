"""Checks of Kafka's security in `deploy/compose.yaml`: who may connect, and who may do what.

The brokers accept no unauthenticated client and authorize with StandardAuthorizer (no ACL: no
access); each service connects as its own principal with its own password; `kafka-users` sets
the passwords, `acls-init` grants exactly the access table of `shared/contracts/access.py`.
"""

from __future__ import annotations

from deploy.acls import (
    ACLS_SCRIPT,
    ADMIN,
    GROUP_PREFIX,
    PRINCIPALS,
    SUPER_USERS,
    acl_differences,
    script_text_acls,
)
from deploy.compose_model import Compose, required_variables
from deploy.documents import DeployFileError
from deploy.spec import SASL_MECHANISM, SASL_PROTOCOLS, SERVICES

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
USERS_JOB = "kafka-users"
ACLS_JOB = "acls-init"
TOPICS_JOB = "topics-init"
CLIENT_PORT = "9092"


def password_variable(principal: str) -> str:
    """The deploy/.env variable holding `principal`'s Kafka password."""
    return f"KAFKA_{principal.upper()}_PASSWORD"


def check(compose: Compose, brokers: list[str]) -> list[str]:
    problems = [p for name in brokers for p in broker_problems(compose, name)]
    for service in SERVICES:
        if service in compose.services:
            problems += service_credential_problems(compose, service)
    problems += users_job_problems(compose)
    problems += admin_job_problems(compose, TOPICS_JOB)
    problems += admin_job_problems(compose, ACLS_JOB)
    problems += acls_job_problems(compose)
    return problems


def _listeners(value: str) -> dict[str, str]:
    """`NAME://host:port,...` -> {NAME: port}."""
    found = {}
    for entry in filter(None, value.split(",")):
        name, _, address = entry.partition("://")
        found[name] = address.rsplit(":", 1)[-1]
    return found


def broker_problems(compose: Compose, name: str) -> list[str]:
    where = f"service {name}"
    env, raw = compose.env(name), compose.raw_env(name)
    problems = []
    protocols = dict(
        entry.split(":", 1)
        for entry in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",")
        if ":" in entry
    )
    listeners = _listeners(env.get("KAFKA_LISTENERS", ""))
    for listener in sorted(listeners):
        if protocols.get(listener) not in SASL_PROTOCOLS:
            problems.append(
                f"{where}: listener {listener} is {protocols.get(listener)}, "
                f"not authenticated ({' or '.join(sorted(SASL_PROTOCOLS))})"
            )
    clients = [listener for listener, port in listeners.items() if port == CLIENT_PORT]
    for listener in clients:
        mechanisms = env.get(f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS", "")
        if mechanisms != SASL_MECHANISM:
            problems.append(f"{where}: the client listener {listener} must offer {SASL_MECHANISM}")
    if not clients:
        problems.append(f"{where}: no listener on port {CLIENT_PORT} for the services")
    if env.get("KAFKA_AUTHORIZER_CLASS_NAME") != STANDARD_AUTHORIZER:
        problems.append(f"{where}: KAFKA_AUTHORIZER_CLASS_NAME must be {STANDARD_AUTHORIZER}")
    if env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND") != "false":
        problems.append(f"{where}: KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND must be false")
    super_users = {user for user in env.get("KAFKA_SUPER_USERS", "").split(";") if user}
    wanted = {f"User:{user}" for user in SUPER_USERS}
    if super_users != wanted:
        problems.append(f"{where}: KAFKA_SUPER_USERS must be {';'.join(sorted(wanted))}")
    for key, value in sorted(raw.items()):
        if "password=" in value and not required_variables(value):
            problems.append(f"{where}: {key} holds a literal password (use ${{VAR:?...}})")
    return problems


def _uses_own_password(compose: Compose, service: str, principal: str) -> list[str]:
    """The container authenticates as `principal` with the password of `principal` only."""
    where = f"service {service}"
    raw, env = compose.raw_env(service), compose.env(service)
    problems = []
    if env.get("CRYPTOORCH_KAFKA_USERNAME") != principal:
        problems.append(f"{where}: CRYPTOORCH_KAFKA_USERNAME must be {principal}")
    own = password_variable(principal)
    if required_variables(raw.get("CRYPTOORCH_KAFKA_PASSWORD", "")) != {own}:
        problems.append(f"{where}: CRYPTOORCH_KAFKA_PASSWORD must be ${{{own}:?...}}")
    others = sorted(
        variable
        for value in raw.values()
        for variable in required_variables(value)
        if variable.startswith("KAFKA_") and variable.endswith("_PASSWORD") and variable != own
    )
    if others:
        problems.append(f"{where}: gets another principal's password ({', '.join(others)})")
    if env.get("CRYPTOORCH_KAFKA_SECURITY_PROTOCOL") not in SASL_PROTOCOLS:
        problems.append(f"{where}: CRYPTOORCH_KAFKA_SECURITY_PROTOCOL must be SASL_*")
    if env.get("CRYPTOORCH_KAFKA_SASL_MECHANISM") != SASL_MECHANISM:
        problems.append(f"{where}: CRYPTOORCH_KAFKA_SASL_MECHANISM must be {SASL_MECHANISM}")
    return problems


def service_credential_problems(compose: Compose, service: str) -> list[str]:
    where = f"service {service}"
    problems = _uses_own_password(compose, service, service)
    if compose.depends_on(service).get(ACLS_JOB) != "service_completed_successfully":
        problems.append(f"{where}: must depend on {ACLS_JOB} (service_completed_successfully)")
    prefix = compose.env(service).get("CRYPTOORCH_DB_PREFIX", GROUP_PREFIX)
    if prefix != GROUP_PREFIX:
        problems.append(
            f"{where}: CRYPTOORCH_DB_PREFIX {prefix} names consumer groups the ACLs do not "
            f"grant ({GROUP_PREFIX}.<service>, deploy/acls.py)"
        )
    return problems


def users_job_problems(compose: Compose) -> list[str]:
    if USERS_JOB not in compose.services:
        return [f"service {USERS_JOB} is missing (it sets each principal's SCRAM password)"]
    where = f"service {USERS_JOB}"
    command = compose.command(USERS_JOB)
    problems = []
    if not any(p.endswith(ACLS_SCRIPT.name) for p in command) or "--users" not in command:
        problems.append(f"{where}: must run {ACLS_SCRIPT} --users")
    raw = compose.raw_env(USERS_JOB)
    for principal in (ADMIN, *PRINCIPALS):
        variable = password_variable(principal)
        if required_variables(raw.get(variable, "")) != {variable}:
            problems.append(f"{where}: {variable} must be ${{{variable}:?...}}")
    return problems


def admin_job_problems(compose: Compose, job: str) -> list[str]:
    if job not in compose.services:
        return []  # reported by the check of that job
    problems = _uses_own_password(compose, job, ADMIN)
    return [p for p in problems if "another principal" not in p]


def acls_job_problems(compose: Compose) -> list[str]:
    if ACLS_JOB not in compose.services:
        return [f"service {ACLS_JOB} is missing (it grants the access table)"]
    where = f"service {ACLS_JOB}"
    command = compose.command(ACLS_JOB)
    script = next((p for p in command if p.endswith(ACLS_SCRIPT.name)), "")
    if not script or "--wait" in command or "--users" in command:
        return [f"{where}: must run {ACLS_SCRIPT} (without --wait or --users)"]
    problems = []
    if compose.depends_on(ACLS_JOB).get(TOPICS_JOB) != "service_completed_successfully":
        problems.append(f"{where}: must run after {TOPICS_JOB} (service_completed_successfully)")
    mounted = compose.mounted_file(ACLS_JOB, script)
    if mounted is None or not mounted.is_file():
        return [*problems, f"{where}: {script} is not mounted from deploy/{ACLS_SCRIPT}"]
    try:
        granted = script_text_acls(mounted.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeployFileError(f"{mounted.name}: {exc}") from exc
    return problems + acl_differences(granted, f"{where}: {mounted.name}")
