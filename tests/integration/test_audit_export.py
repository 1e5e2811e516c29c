"""The export's reader on a real audit trail (pages in seq order, never past the range) and
`cryptoorch audit export` writing a file only once it is complete."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.audit.handlers import append_to_trail
from services.audit.settings import AuditSettings
from shared.audit_export import SeqRange, head_seq, jsonl_line, pages
from shared.db import Connection, connect, drop_database
from shared.infra.resolve import Infrastructure
from shared.service import prepare_database
from tests.support.auditor import jsonl_rows, verify_rows
from tests.unit.audit.messages import filled_order_flow

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO_ROOT / "services" / "audit" / "migrations"


@pytest.fixture
async def trail(
    infra: Infrastructure, settings_factory: Callable[..., AuditSettings], db_prefix: str
) -> AsyncIterator[Connection]:
    """An audit database holding two filled orders (14 rows), appended as the service does."""
    conn = await connect(
        await prepare_database(settings_factory(AuditSettings), "audit", MIGRATIONS)
    )
    try:
        for message in filled_order_flow("ord-a") + filled_order_flow("ord-b"):
            async with conn.transaction():
                await append_to_trail(conn, [message])
        yield conn
    finally:
        await conn.close()
        await drop_database(infra.database_url, f"{db_prefix}_audit")


async def test_pages_follow_seq_and_stop_at_the_end_of_the_range(trail: Connection) -> None:
    assert await head_seq(trail) == 14

    sizes, lines = [], []
    async for page in pages(trail, SeqRange(2, 13), page_rows=5):
        sizes.append(len(page))
        lines += [jsonl_line(row) for row in page]

    assert sizes == [5, 5, 2]
    rows = jsonl_rows("".join(lines))
    assert [r["seq"] for r in rows] == list(range(2, 14))
    assert verify_rows(rows).ok


async def test_a_range_past_the_trail_exports_nothing(trail: Connection) -> None:
    assert [page async for page in pages(trail, SeqRange(15, 14))] == []


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def export_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cryptoorch.cli",
        "audit",
        "export",
        *args,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_writes_the_range_to_a_file_only_once_complete(
    trail: Connection, infra: Infrastructure, db_prefix: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": infra.database_url, "CRYPTOORCH_DB_PREFIX": db_prefix}
    output = tmp_path / "slice.jsonl"

    code, out, err = await export_cli(
        env, "--from-seq", "3", "--to-seq", "5", "--output", str(output)
    )

    assert (code, out) == (0, ""), err
    assert "exported 3 rows (seq 3..5)" in err
    assert [r["seq"] for r in jsonl_rows(output.read_text(encoding="utf-8"))] == [3, 4, 5]
    assert files_in(tmp_path) == ["slice.jsonl"]
    backwards = await export_cli(env, "--from-seq", "5", "--to-seq", "4")
    assert backwards[0] == 2 and "to_seq 4 is before from_seq 5" in backwards[2]
    unreachable = await export_cli(
        {**env, "CRYPTOORCH_DB_PREFIX": "nosuchprefix"}, "--output", str(tmp_path / "x.jsonl")
    )
    assert unreachable[0] == 2 and "cannot read the audit database" in unreachable[2]
    assert files_in(tmp_path) == ["slice.jsonl"]
