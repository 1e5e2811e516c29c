"""Who caused an audited message: a user, an administrator, or a service and its rule.

Derived from the message alone (no state, no lookup), so an auditor can re-derive it from the
export with these rules (docs/canonical-json.md, "The auditor's export"):

* The gateway acts for people. A user's own requests (orders, cancels, the dead man's switch,
  withdrawals, sign-ins, 2FA, exchange keys, registration) name the user: the envelope's
  `account_id`. An administrator's actions name the administrator: `RecordDeposit.recorded_by`,
  `KillSwitchChanged.changed_by` (`cli:<os user>` from `cryptoorch kill-switch`),
  `RestrictionChanged.changed_by`, and the
  `UserRegistered` of an admin account (`cryptoorch admin create`) names the new admin.
* Every other message is a service's own decision or report: the producer names the service
  (a dead letter's producer is the consumer group `<prefix>.<service>`: the service), and the
  rule that decided it when the message names one (`rule` of a rejection or a flag, or a
  `changed_by` of `<service>:<rule>` on a kill switch a service engaged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GATEWAY = "gateway"
USER_ACTIONS = frozenset(
    {
        "PlaceOrder",
        "CancelOrder",
        "CancelAllAfterArmed",
        "RequestWithdrawal",
        "UserRegistered",
        "LoginSucceeded",
        "LoginFailed",
        "TwoFactorEnabled",
        "ExchangeKeyAdded",
    }
)
"""Messages the gateway emits for the signed-in user, about that user's own account."""
ADMIN_ACTIONS = {
    "RecordDeposit": "recorded_by",
    "KillSwitchChanged": "changed_by",
    "RestrictionChanged": "changed_by",
}
"""Messages the gateway emits for an administrator, and the payload field naming them."""


class ActorKind(StrEnum):
    USER = "user"
    ADMIN = "admin"
    SERVICE = "service"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None
    """The user or admin id, or the service name; None only for an admin action recorded
    before messages named their admin (a `RecordDeposit` without `recorded_by`)."""
    rule: str | None = None
    """The rule a service applied, when the message names one."""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "id": self.id, "rule": self.rule}


def actor_of(message: Mapping[str, Any]) -> Actor:
    """Who caused `message` (a trail row's message); never raises on a malformed one."""
    kind = message.get("type")
    raw_payload = message.get("payload")
    payload: Mapping[str, Any] = raw_payload if isinstance(raw_payload, Mapping) else {}
    producer = _text(message.get("producer")) or ""
    if producer == GATEWAY and isinstance(kind, str):
        if kind == "UserRegistered" and payload.get("role") == ActorKind.ADMIN.value:
            return Actor(ActorKind.ADMIN, _text(payload.get("user_id")))
        if kind in USER_ACTIONS:
            return Actor(ActorKind.USER, _text(message.get("account_id")))
        if kind in ADMIN_ACTIONS:
            return Actor(ActorKind.ADMIN, _text(payload.get(ADMIN_ACTIONS[kind])))
    service = producer.rsplit(".", 1)[-1]
    return Actor(ActorKind.SERVICE, service or None, _rule_of(payload, service))


def _rule_of(payload: Mapping[str, Any], service: str) -> str | None:
    rule = payload.get("rule")
    if isinstance(rule, str) and rule:
        return rule
    changed_by = payload.get("changed_by")
    prefix = f"{service}:"
    if isinstance(changed_by, str) and changed_by.startswith(prefix) and changed_by != prefix:
        return changed_by.removeprefix(prefix)
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
