"""The controls register (`shared/controls/`, `cryptoorch controls`, docs/controls.md) lists
every control safety decides with, names settings that exist, and names tests that exist."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptoorch.cli import app
from cryptoorch.controls_cmd import SETTINGS, markdown
from services.safety.domain import ORDER_RULES, WITHDRAWAL_RULES
from services.safety.domain.surveillance import EXECUTION_THROTTLE, ORDER_TO_TRADE_RATIO, WASH_TRADE
from shared.controls import CONTROLS
from shared.controls.control import Control

ROOT = Path(__file__).resolve().parents[2]


def test_every_rule_safety_decides_with_is_a_control_of_the_register() -> None:
    safety_controls = {c.name for c in CONTROLS if c.service == "safety"}
    rules = {*ORDER_RULES, *WITHDRAWAL_RULES, EXECUTION_THROTTLE, WASH_TRADE, ORDER_TO_TRADE_RATIO}
    assert rules - safety_controls == set()
    assert len({c.name for c in CONTROLS}) == len(CONTROLS)


def test_every_setting_named_is_a_setting_of_its_service() -> None:
    for control in CONTROLS:
        assert control.service in SETTINGS, control.name
        if control.setting is not None:
            assert control.setting in SETTINGS[control.service].model_fields, control.name


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: c.name)
def test_the_test_each_control_names_exists(control: Control) -> None:
    test = control.test
    path, _, name = test.partition("::")
    assert (ROOT / path).is_file(), test
    assert name in _test_names(ROOT / path), test


def test_docs_controls_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "controls.md").read_text()
    assert committed == markdown(), "run `make controls` and commit docs/controls.md"


def test_the_cli_lists_every_control_with_the_limit_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTOORCH_EXECUTION_THROTTLE_FILLS", "500")
    result = CliRunner().invoke(app, ["controls", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert list(rows) == [c.name for c in CONTROLS]
    throttle = rows["execution_throttle"]
    assert (throttle["limit"], throttle["default"], throttle["setting"]) == (
        "500",
        "200",
        "CRYPTOORCH_EXECUTION_THROTTLE_FILLS",
    )
    assert throttle["per_account"] is True
    assert rows["cancel_cap"]["reject_reason"] == "429 too_many_cancels"
    assert rows["wash_trade"]["test"].startswith("tests/integration/")
