"""The cells of the authorization matrix: who calls, and what each caller may get back."""

from __future__ import annotations

from dataclasses import dataclass

OWNER, OTHER, ADMIN, ANONYMOUS = "owner", "other user", "admin", "anonymous"
CALLERS = (OWNER, OTHER, ADMIN, ANONYMOUS)


@dataclass(frozen=True)
class Expect:
    """Acceptable statuses, and the problem code when the answer is an error."""

    statuses: frozenset[int]
    code: str | None = None

    def admits(self, status: int, code: str | None) -> bool:
        return status in self.statuses and (self.code is None or code == self.code)

    def __str__(self) -> str:
        return "/".join(map(str, sorted(self.statuses))) + (f" {self.code}" if self.code else "")


def ok(*statuses: int) -> Expect:
    return Expect(frozenset(statuses))


def refused(status: int, code: str) -> Expect:
    return Expect(frozenset({status}), code)


UNAUTHORIZED = refused(401, "unauthorized")
FORBIDDEN = refused(403, "forbidden")
NOT_FOUND = refused(404, "not_found")


def public(status: int) -> dict[str, Expect]:
    return dict.fromkeys(CALLERS, ok(status))


def any_user(status: int) -> dict[str, Expect]:
    return {OWNER: ok(status), OTHER: ok(status), ADMIN: ok(status), ANONYMOUS: UNAUTHORIZED}


def owner_only(status: int) -> dict[str, Expect]:
    return {OWNER: ok(status), OTHER: NOT_FOUND, ADMIN: NOT_FOUND, ANONYMOUS: UNAUTHORIZED}


def owner_or_admin(status: int) -> dict[str, Expect]:
    return {OWNER: ok(status), OTHER: NOT_FOUND, ADMIN: ok(status), ANONYMOUS: UNAUTHORIZED}


def admin_only(status: int) -> dict[str, Expect]:
    return {OWNER: FORBIDDEN, OTHER: FORBIDDEN, ADMIN: ok(status), ANONYMOUS: UNAUTHORIZED}
