"""`make bench`: figures from one run on this machine, raw limits beside what we get from them.

Starts its own broker and a durable PostgreSQL (fsync on) in a temporary folder,
unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL point elsewhere.
`BENCH_SCALE=0.1 make bench` for a quick run; `BENCH_ONLY=foundation,system` for some suites.
`peer` (the `eventsourcing` library doing the ledger's job, beside ours) runs whenever its
benchmark-only extra is installed (`make install` installs it); `BENCH_ONLY=ledger,peer` for
just the comparison.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks import execution, foundation, ledger, peer, services, system
from benchmarks.harness import Report
from benchmarks.targets import targets_table
from shared.infra.resolve import provide

Suite = Callable[[str, str, Report, Path, float], Coroutine[Any, Any, None]]
SUITES: dict[str, Suite] = {
    "foundation": foundation.run,
    "services": services.run,
    "ledger": ledger.run,
    "execution": execution.run,
    "system": system.run,
    "peer": peer.run,
}
"""Each suite: `async def run(server_url, bootstrap, report, scratch, scale)`; raw limits first."""


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    report = Report()
    with tempfile.TemporaryDirectory(prefix="cryptoorch-bench-") as folder:
        infra = provide(Path(folder), durable=True, allow_containers=False)
        try:
            print(f"cryptoorch bench on {platform.node()} ({os.cpu_count()} cores), scale {scale}")
            print(f"broker {infra.kafka_source}, PostgreSQL {infra.database_source} (durable)\n")
            for name, suite in SUITES.items():
                if only and name not in only and name != "foundation":
                    continue
                print(f"[{name}]", flush=True)
                scratch = Path(folder) / name
                scratch.mkdir()
                args = (infra.database_url, infra.kafka_bootstrap_servers, report, scratch, scale)
                asyncio.run(suite(*args))
        finally:
            infra.stop()
    print("\n" + report.table())
    print("\n" + targets_table(report.figures))


if __name__ == "__main__":
    main()
