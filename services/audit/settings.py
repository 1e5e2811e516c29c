"""Audit's settings: when the chain head is checkpointed and where the off-database copy goes.

Every value is overridable by environment (`CRYPTOORCH_AUDIT_CHECKPOINT_EVERY=100`,
`CRYPTOORCH_AUDIT_CHECKPOINT_FILE=/var/lib/cryptoorch/audit-checkpoints.jsonl`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings

DEFAULT_CHECKPOINT_FILE = Path(".data/audit-checkpoints.jsonl")


class AuditSettings(CommonSettings):
    audit_checkpoint_every: int = Field(default=1000, ge=1, le=10_000_000)
    """A checkpoint is taken once this many rows were appended since the last one..."""
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0, le=86_400)
    """...or this many seconds after the last one, when anything was appended meanwhile."""
    audit_checkpoint_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the chain head is looked at to decide whether a checkpoint is due."""
    audit_links_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often rows appended since the last `AuditChainLinks` are published as links."""
    audit_fetch_max_wait_ms: int = Field(default=100, ge=1, le=1000)
    """How long the consumer's fetch waits at the broker for data. The trail is on no one's
    path, and it reads every partition of every topic: at 5 ms its empty answers alone cost
    40% of a core (measured); at 100 ms, 1.4% (the others wait 50 ms). A message that
    arrives meanwhile is answered at once, so under load this adds nothing."""
    audit_checkpoint_file: Path = DEFAULT_CHECKPOINT_FILE
    """JSON lines `{seq, hash, at, database}` outside the database (directory created if needed).
    Keep it on other storage than the database: a rewrite of the whole table shows against it."""
