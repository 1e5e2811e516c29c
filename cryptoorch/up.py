"""`cryptoorch up`: infrastructure, migrations, five services, one URL; Ctrl-C stops it all."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import time
import urllib.request
from pathlib import Path

from cryptoorch.runtime_info import SERVICES, data_dir, migrations_dir, write_runtime
from cryptoorch.supervisor import Supervisor
from shared.infra.kafka_acls import acl_bindings, create_acls
from shared.infra.resolve import provide
from shared.kafka import ensure_topics, wait_for_broker
from shared.kafka_access import KafkaAccess
from shared.service import prepare_database
from shared.settings import CommonSettings

METRICS_BASE_PORT = 9100
"""safety, ledger, execution and audit expose /metrics on 9101..9104 under `cryptoorch up`."""


def load_or_create_secrets(folder: Path) -> dict[str, str]:
    """Keys the services need, generated once per data folder and kept (0600) beside the data.

    A key added by a newer release is generated and stored alongside the existing ones.
    """
    path = folder / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "CRYPTOORCH_JWT_SECRET": lambda: secrets.token_urlsafe(48),
        "CRYPTOORCH_ENCRYPTION_KEY": _fernet_key,
        "CRYPTOORCH_EXCHANGE_SEAL_KEY": _fernet_key,
    }
    missing = {name: make() for name, make in wanted.items() if name not in stored}
    if missing:
        stored.update(missing)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(stored))
    return stored


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def prepare(settings: CommonSettings, *, secured: bool = False) -> None:
    """Topics, then (on a secured broker) each service's ACLs, then databases and migrations.
    `settings` connect as `admin` when the broker is secured."""
    await wait_for_broker(settings.kafka_access)
    await ensure_topics(
        settings.kafka_access,
        replication_factor=settings.kafka_replication_factor,
        min_insync_replicas=settings.kafka_min_insync_replicas,
    )
    if secured:
        await create_acls(settings.kafka_access, acl_bindings(settings.db_prefix))
    for name in SERVICES:
        await prepare_database(settings, name, migrations_dir(name))


def _recorded(access: KafkaAccess) -> dict[str, str]:
    """The admin's credentials for the CLI (`runtime_info.kafka_access`; the file is 0600)."""
    return {
        "security_protocol": access.security_protocol,
        "sasl_mechanism": access.sasl_mechanism,
        "username": access.username,
        "password": access.password,
    }


def _gateway_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def run_up(host: str, port: int, brokers: int = 1) -> int:
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    what = f"a cluster of {brokers} brokers" if brokers > 1 else "broker"
    print(f"[cryptoorch] starting {what} and database (data in {folder})", flush=True)
    infra = provide(folder, durable=True, allow_containers=False, brokers=brokers)
    supervisor: Supervisor | None = None
    try:
        env = {
            **os.environ,
            **load_or_create_secrets(folder),
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "DATABASE_URL": infra.database_url,
            "CRYPTOORCH_GATEWAY_HOST": host,
            "CRYPTOORCH_GATEWAY_PORT": str(port),
            "CRYPTOORCH_AUDIT_CHECKPOINT_FILE": str(folder / "audit-checkpoints.jsonl"),
        }
        if infra.kafka_cluster is not None:  # topics as the cluster can hold them: RF 3, ISR 2
            env["CRYPTOORCH_KAFKA_REPLICATION_FACTOR"] = str(infra.kafka_replication_factor)
            env["CRYPTOORCH_KAFKA_MIN_INSYNC_REPLICAS"] = str(infra.kafka_min_insync_replicas)
        admin = infra.kafka_access  # `admin` on a secured cluster: topics and ACLs
        settings = CommonSettings(
            KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
            DATABASE_URL=infra.database_url,
            kafka_replication_factor=int(env.get("CRYPTOORCH_KAFKA_REPLICATION_FACTOR", "1")),
            kafka_min_insync_replicas=int(env.get("CRYPTOORCH_KAFKA_MIN_INSYNC_REPLICAS", "1")),
            kafka_security_protocol=admin.security_protocol,
            kafka_sasl_mechanism=admin.sasl_mechanism,
            kafka_username=admin.username,
            kafka_password=admin.password,
        )
        secured = infra.kafka_security is not None
        asyncio.run(prepare(settings, secured=secured))
        gateway_url = f"http://{host}:{port}"
        metrics_ports = {
            name: {"CRYPTOORCH_METRICS_PORT": str(METRICS_BASE_PORT + i)}
            for i, name in enumerate(SERVICES)
            if name != "gateway"
        }
        per_service = {  # each service its own principal on a secured cluster
            name: metrics_ports.get(name, {}) | infra.service_env(name) for name in SERVICES
        }
        write_runtime(
            {
                "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
                "database_url": infra.database_url,
                "db_prefix": settings.db_prefix,
                "gateway_url": gateway_url,
                "supervisor_pid": os.getpid(),
                "kafka": infra.kafka_source,
                "kafka_brokers": len(infra.kafka_cluster.ports) if infra.kafka_cluster else 1,
                "database": infra.database_source,
                "metrics": {
                    name: f"http://127.0.0.1:{ports['CRYPTOORCH_METRICS_PORT']}/metrics"
                    for name, ports in metrics_ports.items()
                }
                | {"gateway": gateway_url + "/metrics"},
            }
            | ({"kafka_access": _recorded(admin)} if secured else {})
        )
        supervisor = Supervisor(env, folder / "logs", per_service_env=per_service)
        for name in SERVICES:
            supervisor.start(name)
        nodes = f", {brokers} nodes" if infra.kafka_cluster else ""
        print(f"[cryptoorch] broker {infra.kafka_bootstrap_servers} ({infra.kafka_source}{nodes})")
        print(f"[cryptoorch] database {infra.database_url} ({infra.database_source})")
        print(f"[cryptoorch] service logs in {folder / 'logs'}", flush=True)
        announced = False
        deadline = time.monotonic() + 60
        while not stop:
            supervisor.check()
            if not announced and _gateway_healthy(gateway_url):
                announced = True
                print(f"[cryptoorch] ready: gateway on {gateway_url}  (Ctrl-C stops)", flush=True)
            elif not announced and time.monotonic() > deadline:
                print("[cryptoorch] the gateway is not answering yet; see its log", flush=True)
                deadline = float("inf")
            time.sleep(0.2)
        print("[cryptoorch] stopping", flush=True)
        return 0
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        infra.stop()
        (folder / "runtime.json").unlink(missing_ok=True)
