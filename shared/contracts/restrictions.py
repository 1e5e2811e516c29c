"""The operator's restricted list (gateway → safety): symbols and accounts no new order may use."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.contracts.envelope import Payload, register
from shared.contracts.topics import Topic


class RestrictionScope(StrEnum):
    """What a restriction names: a symbol (`BASE/QUOTE`) or an account (a user id)."""

    SYMBOL = "symbol"
    ACCOUNT = "account"


@register
class RestrictionChanged(Payload):
    """An administrator put a symbol or an account on the restricted list (`restricted`) or
    took it off. Safety rejects a new order (and, for an account, a withdrawal) it covers with
    RESTRICTED; open orders are left alone (that is what a kill switch is for)."""

    TYPE = "RestrictionChanged"
    TOPIC = Topic.ACCOUNT_EVENTS
    scope: RestrictionScope
    target: str = Field(min_length=1, max_length=64)
    restricted: bool
    reason: str
    changed_by: str
