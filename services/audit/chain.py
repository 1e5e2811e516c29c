"""The hash chain lives in `shared.audit_chain` (the gateway's console verifies with it too);
the audit service's modules keep importing it from here."""

from __future__ import annotations

from shared.audit_chain.canonical_json import UncanonicalValue, canonical_json
from shared.audit_chain.fold import ChainFold, Checkpoint, Finding, Problem
from shared.audit_chain.rows import (
    COLUMNS,
    GENESIS_HASH,
    StoredRow,
    TrailRow,
    columns_of,
    link_hash,
    next_row,
    next_rows,
    stored_row,
    topic_of,
    trail_document,
)

__all__ = [
    "COLUMNS",
    "GENESIS_HASH",
    "ChainFold",
    "Checkpoint",
    "Finding",
    "Problem",
    "StoredRow",
    "TrailRow",
    "UncanonicalValue",
    "canonical_json",
    "columns_of",
    "link_hash",
    "next_row",
    "next_rows",
    "stored_row",
    "topic_of",
    "trail_document",
]
