"""A `KillSwitchChanged` another service emitted, as the switch the gateway lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.controls import InvalidKillSwitchChange, switch_of
from services.gateway.store.trail import KillSwitch
from shared.contracts.accounts import KillSwitchChanged, KillSwitchMode, KillSwitchScope

AT = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def change(scope: str, target: str | None, engaged: bool = True) -> KillSwitchChanged:
    return KillSwitchChanged(
        scope=scope, target=target, engaged=engaged, reason="why", changed_by="safety:x"
    )


def test_an_account_switch_keeps_its_reason_author_and_the_events_time() -> None:
    assert switch_of(change("account", "u-1"), AT) == KillSwitch(
        KillSwitchScope.ACCOUNT, "u-1", True, "why", "safety:x", AT, KillSwitchMode.HALT
    )


def test_a_reduce_only_switch_keeps_its_mode() -> None:
    reduce_only = change("symbol", "BTC/USDT").model_copy(
        update={"mode": KillSwitchMode.REDUCE_ONLY}
    )
    assert switch_of(reduce_only, AT).mode is KillSwitchMode.REDUCE_ONLY


def test_a_global_switch_has_no_target() -> None:
    assert switch_of(change("global", "ignored", engaged=False), AT).target is None


@pytest.mark.parametrize(
    ("scope", "target"), [("venue", "x"), ("account", None), ("symbol", ""), ("", None)]
)
def test_a_switch_safety_would_not_enforce_is_refused(scope: str, target: str | None) -> None:
    with pytest.raises(InvalidKillSwitchChange):
        switch_of(change(scope, target), AT)
