"""Where a running `cryptoorch up` put things, so every other command reaches the same parts.

`cryptoorch up` writes `.data/runtime.json`; `KAFKA_BOOTSTRAP_SERVERS`,
`DATABASE_URL` and `CRYPTOORCH_DB_PREFIX` in the environment win over it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared.kafka_access import KafkaAccess
from shared.settings import CommonSettings, database_url_for

SERVICES = ("gateway", "safety", "ledger", "execution", "audit")


def data_dir() -> Path:
    return Path(os.environ.get("CRYPTOORCH_DATA_DIR", ".data")).resolve()


def runtime_file() -> Path:
    return data_dir() / "runtime.json"


def read_runtime() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(runtime_file().read_text())
        return data
    except (OSError, ValueError):
        return {}


def write_runtime(info: dict[str, Any]) -> None:
    """Readable by its owner only (0600): with security on it holds the broker's admin
    credentials, which the CLI uses."""
    path = runtime_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)


class NotRunning(RuntimeError):
    pass


def _lookup(env_name: str, key: str) -> str:
    value = os.environ.get(env_name) or read_runtime().get(key)
    if not value:
        raise NotRunning(
            f"{env_name} is not set and no running `cryptoorch up` was found in {data_dir()}"
        )
    return str(value)


def server_database_url() -> str:
    return _lookup("DATABASE_URL", "database_url")


def kafka_bootstrap_servers() -> str:
    return _lookup("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")


def kafka_access() -> KafkaAccess:
    """The broker as the operator sees it: `CRYPTOORCH_KAFKA_SECURITY_PROTOCOL` (and the
    other `CRYPTOORCH_KAFKA_*` settings) in the environment win; else the admin credentials a
    running `cryptoorch up` recorded (`kafka_access` in the runtime file); else PLAINTEXT."""
    bootstrap = kafka_bootstrap_servers()
    if os.environ.get("CRYPTOORCH_KAFKA_SECURITY_PROTOCOL"):
        return CommonSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap).kafka_access
    recorded = read_runtime().get("kafka_access") or {}
    return KafkaAccess(
        bootstrap,
        security_protocol=str(recorded.get("security_protocol", "PLAINTEXT")),
        sasl_mechanism=str(recorded.get("sasl_mechanism", "SCRAM-SHA-512")),
        username=str(recorded.get("username", "")),
        password=str(recorded.get("password", "")),
    )


def db_prefix() -> str:
    return os.environ.get("CRYPTOORCH_DB_PREFIX") or str(
        read_runtime().get("db_prefix", "cryptoorch")
    )


def service_database_url(service: str) -> str:
    return database_url_for(server_database_url(), f"{db_prefix()}_{service}")


def migrations_dir(service: str) -> Path:
    """A service's migrations, found by path: the CLI never imports a service to migrate it."""
    return Path(__file__).resolve().parent.parent / "services" / service / "migrations"
