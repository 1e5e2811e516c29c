-- Where each message sits in the audit service's hash chain, as it publishes them
-- (AuditChainLinks on audit.checkpoints.v1). Kept apart from audit_entries and joined by
-- event_id when read: a link may arrive before the gateway has consumed its message.
CREATE TABLE audit_links (
    event_id  UUID PRIMARY KEY,
    seq       BIGINT NOT NULL,
    prev_hash TEXT NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash      TEXT NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

-- Never written: the chain position now comes from audit_links.
ALTER TABLE audit_entries DROP COLUMN hash, DROP COLUMN prev_hash;
