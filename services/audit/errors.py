"""Audit's exceptions: one root."""

from __future__ import annotations

from shared.audit_chain.canonical_json import UncanonicalValue

__all__ = ["AuditError", "CheckpointFileInvalid", "UncanonicalValue"]


class AuditError(Exception):
    """Root of every error raised by the audit service."""


class CheckpointFileInvalid(AuditError):
    """A line of the checkpoint file cannot be read: the anchor itself is in doubt."""

    def __init__(self, line_number: int, detail: str) -> None:
        super().__init__(f"checkpoint file line {line_number}: {detail}")
        self.line_number = line_number
        self.detail = detail
