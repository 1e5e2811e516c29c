"""The whole system as real processes, as `cryptoorch up` runs it, for e2e and chaos tests."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.infra.processes import ChildProcess, free_port, spawn

SERVICES = ("gateway", "safety", "ledger", "execution", "audit")


@dataclass
class System:
    env: dict[str, str]
    log_dir: Path
    gateway_url: str
    processes: dict[str, ChildProcess] = field(default_factory=dict)
    per_service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """More environment for one service (its own broker credentials, as `cryptoorch up`)."""

    def start(self, name: str, service: str | None = None) -> None:
        """Start `service` (default: `name`) under the key `name`; a second instance of a
        service is the same module under another key (`start("ledger-2", "ledger")`)."""
        self.processes[name] = spawn(
            name,
            [sys.executable, "-m", f"services.{service or name}"],
            log_path=self.log_dir / f"{name}.log",
            death_signal=signal.SIGKILL,
            stop_signal=signal.SIGTERM,
            env={**self.env, **self.per_service_env.get(service or name, {})},
        )

    def exited(self) -> list[str]:
        """Keys of processes that are no longer running (nobody stopped them)."""
        return [name for name, process in self.processes.items() if not process.is_running()]

    def kill(self, name: str) -> None:
        """kill -9: no chance to flush, commit offsets or say goodbye."""
        process = self.processes.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.stop()

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.processes.pop(name).stop(grace=10)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = [n for n, p in self.processes.items() if not p.is_running()]
            if dead:
                raise AssertionError(f"{dead} exited:\n" + self.logs(*dead))
            try:
                if httpx.get(self.gateway_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gateway not healthy:\n" + self.logs("gateway"))
            time.sleep(0.1)

    def logs(self, *names: str, lines: int = 60) -> str:
        return "\n".join(
            f"--- {n} ---\n"
            + "\n".join(
                (self.log_dir / f"{n}.log").read_text(errors="replace").splitlines()[-lines:]
            )
            for n in names
            if (self.log_dir / f"{n}.log").exists()
        )


def system_env(base: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    port = free_port()
    return {
        **os.environ,
        **base,
        "CRYPTOORCH_JWT_SECRET": secrets.token_urlsafe(48),
        "CRYPTOORCH_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "CRYPTOORCH_EXCHANGE_SEAL_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "CRYPTOORCH_GATEWAY_HOST": "127.0.0.1",
        "CRYPTOORCH_GATEWAY_PORT": str(port),
        "CRYPTOORCH_AUDIT_CHECKPOINT_FILE": str(data_dir / "audit-checkpoints.jsonl"),
        "CRYPTOORCH_DATA_DIR": str(data_dir),
        "CRYPTOORCH_PAPER_TICK_SECONDS": "0.5",
    }
