"""The audit trail's hash chain, with no I/O. The audit service appends with it; `cryptoorch
audit verify` and the console's verification (`POST /v1/admin/audit/verify`, through
`shared.audit_verify`) check with the same fold.

`hash = sha256(bytes.fromhex(prev_hash) || canonical_json(message))`, genesis
`prev_hash` = 64 zeros. docs/canonical-json.md specifies the encoding so the
chain can be re-verified in any language from the rows alone.

* `canonical_json`: the bytes a message is hashed as.
* `rows`: the link hash, a message as the trail keeps it, its copied-out columns, and the
  rows that extend the chain (or are read back from the table).
* `fold`: `ChainFold`, which checks a trail row by row against the chain and checkpoints.
"""
