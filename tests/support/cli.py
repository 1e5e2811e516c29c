"""`cryptoorch` as an operator runs it: a real process, its exit code and what it printed."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def run_cli(env: dict[str, str], *args: str, timeout: float = 240) -> CliResult:
    """The operator's command, as a real process (only `env` and a minimal PATH in its
    environment)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cryptoorch.cli",
        *args,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())
