"""The security run (issue 9): fixtures shared by its modules."""

from __future__ import annotations

from tests.support.gateway_service import gateway

__all__ = ["gateway"]
