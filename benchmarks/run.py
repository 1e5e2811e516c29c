"""`make bench`: figures from one run on this machine, raw limits beside what we get from them.

Starts its own broker and a durable PostgreSQL (fsync on) in a temporary folder,
unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL point elsewhere.
`BENCH_SCALE=0.1 make bench` for a quick run.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
from pathlib import Path

from benchmarks import foundation
from benchmarks.harness import Report
from shared.infra.resolve import provide


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    report = Report()
    with tempfile.TemporaryDirectory(prefix="cryptoorch-bench-") as folder:
        infra = provide(Path(folder), durable=True, allow_containers=False)
        try:
            print(f"cryptoorch bench on {platform.node()} ({os.cpu_count()} cores), scale {scale}")
            print(f"broker {infra.kafka_source}, PostgreSQL {infra.database_source} (durable)\n")
            asyncio.run(
                foundation.run(
                    infra.database_url,
                    infra.kafka_bootstrap_servers,
                    report,
                    Path(folder) / "sql",
                    scale,
                )
            )
        finally:
            infra.stop()
    print("\n" + report.table())


if __name__ == "__main__":
    main()
