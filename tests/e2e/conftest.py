from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import SERVICES, System, system_env


@pytest.fixture
def system(
    service_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[System]:
    """The five services; a test may add environment variables with
    `@pytest.mark.parametrize("system", [{"NAME": "value"}], indirect=True)`."""
    env = {**system_env(service_env, tmp_path), **getattr(request, "param", {})}
    running = System(env, tmp_path / "logs", f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}")
    try:
        for name in SERVICES:
            running.start(name)
        running.wait_healthy()
        yield running
    except BaseException:
        print(running.logs(*SERVICES))
        raise
    finally:
        running.stop()
