"""The broker's ACLs are the access table of `shared.contracts.access`, and the generated script
grants exactly them (run here with `sh` against stand-in Kafka tools that keep the ACLs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import acls
from deploy.acls import expected_acls, render_all, script_text_acls, stale_files
from deploy.topics import DEPLOY_ROOT
from deploy.validate import validate
from shared.contracts import access
from shared.contracts.topics import Topic

SH = shutil.which("sh")
needs_sh = pytest.mark.skipif(SH is None, reason="no POSIX sh")

FAKE_TOOL = f"""#!{sys.executable}
# Stand-in for the apache/kafka image's tools: keeps ACLs and SCRAM users in a JSON file.
import json, os, sys
tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
state_path = os.environ["FAKE_KAFKA_STATE"]
state = json.load(open(state_path)) if os.path.exists(state_path) else {{"acls": [], "users": {{}}}}
def values(flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]
config = open(values("--command-config")[0]).read()
state.setdefault("configs", []).append(config)
if tool == "kafka-topics.sh":
    print("\\n".join(os.environ["FAKE_TOPICS"].split()))
elif tool == "kafka-configs.sh":
    name = values("--entity-name")[0]
    state["users"][name] = values("--add-config")[0]
elif "--add" in args:
    principal = values("--allow-principal")[0].removeprefix("User:")
    for kind in ("topic", "group"):
        for name in values("--" + kind):
            for op in values("--operation"):
                row = [principal, kind, name, op]
                if row not in state["acls"]:
                    state["acls"].append(row)
elif "--list" in args:
    principal = values("--principal")[0].removeprefix("User:")
    for p, kind, name, op in state["acls"]:
        if p == principal:
            print(f"Current ACLs for resource `{{kind}}:{{name}}`:")
            print(f" \\t(principal=User:{{p}}, host=*, operation={{op.upper()}}, permissionType=ALLOW)")
json.dump(state, open(state_path, "w"))
"""


@pytest.fixture
def kafka_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("kafka-acls.sh", "kafka-topics.sh", "kafka-configs.sh"):
        (folder / tool).write_text(FAKE_TOOL)
        (folder / tool).chmod(0o755)
    return folder


def run_script(kafka_bin: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(kafka_bin),
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092",
        "FAKE_KAFKA_STATE": str(kafka_bin.parent / "state.json"),
        "FAKE_TOPICS": " ".join(t.value for t in Topic) + " " + " ".join(t.dlq for t in Topic),
        "TMPDIR": str(kafka_bin.parent),
        "ACLS_WAIT_ATTEMPTS": "1",
        "CRYPTOORCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CRYPTOORCH_KAFKA_USERNAME": "admin",
        "CRYPTOORCH_KAFKA_PASSWORD": "admin-secret",
    }
    return subprocess.run(
        [str(SH), str(DEPLOY_ROOT / "create-acls.sh"), *args],
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def state(kafka_bin: Path) -> dict[str, object]:
    return json.loads((kafka_bin.parent / "state.json").read_text())  # type: ignore[no-any-return]


def test_committed_acl_files_are_what_the_access_table_generates() -> None:
    assert stale_files(DEPLOY_ROOT) == [], "run `python -m deploy.acls`"


def test_the_script_states_exactly_the_access_table() -> None:
    granted = script_text_acls((DEPLOY_ROOT / "create-acls.sh").read_text())

    assert granted == expected_acls()


def test_the_gateway_may_not_write_the_ledger_topic_and_each_service_reads_only_its_group() -> None:
    granted = expected_acls()

    assert ("gateway", "topic", Topic.LEDGER_EVENTS.value, "Write") not in granted
    assert ("gateway", "topic", Topic.LEDGER_EVENTS.value, "Read") in granted
    assert ("ledger", "topic", Topic.LEDGER_EVENTS.value, "Write") in granted
    read_groups = {(p, name) for p, kind, name, op in granted if kind == "group" and op == "Read"}
    assert read_groups == {(s, f"cryptoorch.{s}") for s in access.SERVICES}
    described = {(p, name) for p, kind, name, op in granted if kind == "group" and op == "Describe"}
    assert {p for p, _ in described} == {"gateway"}  # the console's consumer lag, nothing more
    assert {op for *_, op in granted} == {"Read", "Write", "Describe"}


def test_a_new_writer_in_the_access_table_makes_the_acl_files_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    produces = dict(access.PRODUCES)
    produces["gateway"] = (*produces["gateway"], Topic.LEDGER_EVENTS)
    monkeypatch.setattr(access, "PRODUCES", produces)

    assert set(stale_files(DEPLOY_ROOT)) == set(render_all())


def test_a_hand_added_grant_in_the_script_is_refused_by_validate(tmp_path: Path) -> None:
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY_ROOT, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    script = target / "create-acls.sh"
    script.write_text(
        script.read_text().replace(
            '"$1" gateway topic Write,Describe \\\n',
            '"$1" gateway topic Write,Describe \\\n    ledger.events.v1 \\\n',
            1,
        )
    )

    problems = validate(target)

    assert any("create-acls.sh: stale" in p for p in problems)
    assert any(
        "acls-init" in p and "Write on topic ledger.events.v1 to User:gateway" in p
        for p in problems
    )


@needs_sh
def test_the_script_grants_exactly_the_table_as_admin_and_verifies_it(kafka_bin: Path) -> None:
    result = run_script(kafka_bin)

    assert result.returncode == 0, result.stderr
    rows = {tuple(row) for row in state(kafka_bin)["acls"]}  # type: ignore[attr-defined]
    assert rows == expected_acls()
    configs = state(kafka_bin)["configs"]
    assert all('username="admin" password="admin-secret"' in c for c in configs)  # type: ignore[attr-defined]
    assert all("sasl.mechanism=SCRAM-SHA-512" in c for c in configs)  # type: ignore[attr-defined]
    assert "exactly the grants" in result.stdout


@needs_sh
def test_an_acl_outside_the_table_fails_the_verification(kafka_bin: Path) -> None:
    extra = [["gateway", "topic", Topic.LEDGER_EVENTS.value, "Write"]]
    (kafka_bin.parent / "state.json").write_text(json.dumps({"acls": extra, "users": {}}))

    result = run_script(kafka_bin)

    assert result.returncode == 1
    assert "User:gateway has" in result.stderr


@needs_sh
def test_users_sets_the_scram_password_of_each_principal_given(kafka_bin: Path) -> None:
    result = run_script(kafka_bin, "--users", KAFKA_ADMIN_PASSWORD="a1", KAFKA_LEDGER_PASSWORD="l1")

    assert result.returncode == 0, result.stderr
    assert state(kafka_bin)["users"] == {
        "admin": "SCRAM-SHA-512=[password=a1]",
        "ledger": "SCRAM-SHA-512=[password=l1]",
    }


@needs_sh
def test_wait_succeeds_once_the_service_sees_its_topics_and_fails_while_one_is_missing(
    kafka_bin: Path,
) -> None:
    ready = run_script(kafka_bin, "--wait", "ledger", CRYPTOORCH_KAFKA_USERNAME="ledger")
    missing = run_script(
        kafka_bin,
        "--wait",
        "ledger",
        CRYPTOORCH_KAFKA_USERNAME="ledger",
        FAKE_TOPICS=Topic.LEDGER_EVENTS.value,
    )

    assert ready.returncode == 0, ready.stderr
    assert missing.returncode == 1
    assert Topic.WALLET_COMMANDS.value in missing.stderr


def test_acls_main_check_passes_on_the_committed_files() -> None:
    assert acls.main(["--check"]) == 0
