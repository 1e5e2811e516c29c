"""An auditor's verifier of an export, written from docs/canonical-json.md alone.

It imports nothing of ours on purpose: canonical JSON is encoded here from the document's
five rules (not with `json.dumps`), the chain from its formula. If the services and this
file ever disagree, the document is wrong or the export is.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def canonical_text(value: Any) -> str:
    """Rules 1-5 of "Canonical JSON"."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_escaped(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(canonical_text(v) for v in value) + "]"
    if isinstance(value, dict):
        members = (f"{canonical_text(k)}:{canonical_text(value[k])}" for k in sorted(value))
        return "{" + ",".join(members) + "}"
    raise ValueError(f"not a value canonical JSON allows: {value!r}")


def _escaped(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    return f"\\u{ord(char):04x}" if ord(char) < 0x20 else char


def row_hash(prev_hash: str, message: Any) -> str:
    """hash = sha256( bytes_of_hex(prev_hash) || canonical_json(message) )."""
    return hashlib.sha256(
        bytes.fromhex(prev_hash) + canonical_text(message).encode("utf-8")
    ).hexdigest()


@dataclass(frozen=True)
class Verdict:
    rows: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    why: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def verify_rows(rows: Iterable[Mapping[str, Any]], *, start_hash: str | None = None) -> Verdict:
    """Check `{seq, prev_hash, hash, message}` rows in file order. An export that starts at
    seq 1 must start from the genesis hash; one that starts later links to `start_hash` (the
    hash the auditor holds for the row before it) or, without one, to what its first row says."""
    expected_seq: int | None = None
    prev = start_hash
    count = 0
    for row in rows:
        seq = row["seq"]
        if expected_seq is None:
            expected_seq = seq
            prev = GENESIS if seq == 1 else (prev or row["prev_hash"])
        if seq != expected_seq:
            return Verdict(count, expected_seq - 1, prev, expected_seq, f"found seq {seq}")
        if row["prev_hash"] != prev:
            return Verdict(count, seq - 1, prev, seq, "prev_hash does not link")
        try:
            recomputed = row_hash(prev or GENESIS, row["message"])
        except ValueError as exc:
            return Verdict(count, seq - 1, prev, seq, str(exc))
        if recomputed != row["hash"]:
            return Verdict(count, seq - 1, prev, seq, f"hash {row['hash']} recomputes {recomputed}")
        prev, expected_seq, count = recomputed, seq + 1, count + 1
    return Verdict(count, None if expected_seq is None else expected_seq - 1, prev)


def jsonl_rows(text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line]
    return rows


def csv_rows(text: str) -> list[dict[str, Any]]:
    return [
        {
            "seq": int(record["seq"]),
            "prev_hash": record["prev_hash"],
            "hash": record["hash"],
            "actor": json.loads(record["actor"]),
            "message": json.loads(record["message"]),
        }
        for record in csv.DictReader(io.StringIO(text, newline=""))
    ]
