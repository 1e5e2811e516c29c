"""A control of the register: its name, stage, the service that enforces it, what it does when
it trips, the test that proves it and the setting that bounds it.

A setting is read from `CRYPTOORCH_<SETTING IN CAPITALS>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    PRE_TRADE = "pre-trade"
    POST_TRADE = "post-trade"


@dataclass(frozen=True)
class Control:
    name: str
    stage: Stage
    service: str
    """The service that enforces it (and whose settings hold `setting`)."""
    outcome: str
    """The reject reason, HTTP answer, flag or action it produces."""
    does: str
    test: str
    """A pytest node id that proves it at its boundary."""
    setting: str | None = None
    """The setting that bounds it (None: a check with no number to set)."""

    @property
    def env(self) -> str | None:
        return f"CRYPTOORCH_{self.setting.upper()}" if self.setting else None


PRE, POST = Stage.PRE_TRADE, Stage.POST_TRADE
