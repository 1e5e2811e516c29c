"""The security run (issue 9): fixtures shared by its modules."""

from __future__ import annotations

from tests.integration.test_gateway_support import gateway

__all__ = ["gateway"]
