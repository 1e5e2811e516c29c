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
from shared.infra.resolve import provide
from shared.kafka import ensure_topics, wait_for_broker
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


async def prepare(settings: CommonSettings) -> None:
    await wait_for_broker(settings.kafka_bootstrap_servers)
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        replication_factor=settings.kafka_replication_factor,
        min_insync_replicas=settings.kafka_min_insync_replicas,
    )
    for name in SERVICES:
        await prepare_database(settings, name, migrations_dir(name))


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
        settings = CommonSettings(
            KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
            DATABASE_URL=infra.database_url,
            kafka_replication_factor=int(env.get("CRYPTOORCH_KAFKA_REPLICATION_FACTOR", "1")),
            kafka_min_insync_replicas=int(env.get("CRYPTOORCH_KAFKA_MIN_INSYNC_REPLICAS", "1")),
        )
        asyncio.run(prepare(settings))
        gateway_url = f"http://{host}:{port}"
        metrics_ports = {
            name: {"CRYPTOORCH_METRICS_PORT": str(METRICS_BASE_PORT + i)}
            for i, name in enumerate(SERVICES)
            if name != "gateway"
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
        )
        supervisor = Supervisor(env, folder / "logs", per_service_env=metrics_ports)
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
