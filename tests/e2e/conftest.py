from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cryptoorch.check import check_system
from shared.infra.resolve import Infrastructure
from shared.settings import database_url_for
from tests.conftest import delete_topics
from tests.support.system import SERVICES, System, system_env


@pytest.fixture
def system(
    infra: Infrastructure,
    service_env: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[System]:
    """The five services; a test may add environment variables with
    `@pytest.mark.parametrize("system", [{"NAME": "value"}], indirect=True)`.

    Every e2e test ends with `cryptoorch check` over its system: whatever the test did, every
    request it made is terminal, no deposit is lost, nothing is doubled and the audit chain
    verifies. A test that cannot satisfy it says why with `@pytest.mark.unchecked_system`.
    So that the check judges this test's system alone, it starts on a broker emptied of the
    earlier tests' topics (new consumer groups read from the beginning)."""
    if infra.kafka_source == "embedded":
        asyncio.run(delete_topics(infra.kafka_bootstrap_servers))
    env = {**system_env(service_env, tmp_path), **getattr(request, "param", {})}
    running = System(env, tmp_path / "logs", f"http://127.0.0.1:{env['CRYPTOORCH_GATEWAY_PORT']}")
    try:
        for name in SERVICES:
            running.start(name)
        running.wait_healthy()
        yield running
        if request.node.get_closest_marker("unchecked_system") is None:
            poison = request.node.get_closest_marker("expects_dead_letters")
            _check_the_whole_system(env, poison.args if poison else ())
    except BaseException:
        print(running.logs(*SERVICES))
        raise
    finally:
        running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report carries the last lines of its services' logs (what CI shows)."""
    report: pytest.TestReport = yield
    running = getattr(item, "funcargs", {}).get("system")
    if report.when == "call" and report.failed and isinstance(running, System):
        report.sections.append(("services' logs", running.logs(*SERVICES)))
    return report


def _check_the_whole_system(env: dict[str, str], poison: tuple[bytes, ...]) -> None:
    """`poison`: what the test itself wrote that the services must park (a dead letter whose
    original message contains one of them is expected; any other is a finding)."""
    urls = {
        name: database_url_for(env["DATABASE_URL"], f"{env['CRYPTOORCH_DB_PREFIX']}_{name}")
        for name in SERVICES
    }
    checkpoints = Path(env["CRYPTOORCH_AUDIT_CHECKPOINT_FILE"])
    report = asyncio.run(
        check_system(
            urls,
            drain_seconds=30,
            checkpoint_file=checkpoints if checkpoints.exists() else None,
            expected_dead_letter=lambda letter: any(p in letter.original_value() for p in poison),
        )
    )
    assert report.ok, "cryptoorch check after the test:\n" + "\n".join(report.violations[:30])
