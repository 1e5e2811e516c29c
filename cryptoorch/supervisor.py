"""Run the five services as child processes; restart one that dies, with backoff, and say so."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.infra.processes import ChildProcess, spawn

MAX_BACKOFF = 30.0


@dataclass
class Supervised:
    name: str
    log_path: Path
    process: ChildProcess | None = None
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0
    started_at: float = field(default=0.0)


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        announce: bool = True,
        per_service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._env = dict(env)
        self._per_service = per_service_env or {}
        self._log_dir = log_dir
        self._announce = announce
        self.services: dict[str, Supervised] = {}

    def start(self, name: str) -> None:
        entry = self.services.setdefault(name, Supervised(name, self._log_dir / f"{name}.log"))
        entry.process = spawn(
            name,
            [sys.executable, "-m", f"services.{name}"],
            log_path=entry.log_path,
            death_signal=signal.SIGTERM,
            stop_signal=signal.SIGTERM,
            env={**self._env, **self._per_service.get(name, {})},
        )
        entry.started_at = time.monotonic()

    def check(self) -> None:
        """Restart what died; a service that stayed up 60 s gets its backoff reset."""
        now = time.monotonic()
        for entry in self.services.values():
            process = entry.process
            if process is not None and process.is_running():
                if now - entry.started_at > 60:
                    entry.backoff = 1.0
                continue
            if process is not None:
                entry.process = None
                entry.next_start = now + entry.backoff
                self._say(
                    f"{entry.name} exited; restarting in {entry.backoff:.0f}s "
                    f"(log: {entry.log_path})"
                )
                entry.backoff = min(entry.backoff * 2, MAX_BACKOFF)
            elif now >= entry.next_start:
                entry.restarts += 1
                self.start(entry.name)
                self._say(f"{entry.name} restarted (restart #{entry.restarts})")

    def stop_all(self) -> None:
        for entry in reversed(list(self.services.values())):
            if entry.process is not None:
                entry.process.stop(grace=10.0)
                entry.process = None

    def _say(self, text: str) -> None:
        if self._announce:
            print(f"[cryptoorch] {text}", flush=True)
