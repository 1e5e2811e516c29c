-- The audit trail: every message once, hash-chained, insert-only.
-- hash = sha256(decode(prev_hash, 'hex') || canonical_json(message)); see docs/canonical-json.md.
-- The columns beside `message` are copies for queries; `audit verify` checks they agree with it.
-- Appends are serialised by a transaction-scoped advisory lock (services/audit/store.py), so
-- `seq` has no gap and the chain is linear even with several audit instances.
CREATE TABLE audit_trail (
    seq            BIGINT PRIMARY KEY CHECK (seq >= 1),
    event_id       UUID NOT NULL UNIQUE,
    topic          TEXT NOT NULL,
    type           TEXT NOT NULL,
    version        INT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    producer       TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id   UUID,
    message        JSONB NOT NULL,
    prev_hash      TEXT NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash           TEXT NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_trail_correlation ON audit_trail (correlation_id);
CREATE INDEX audit_trail_account ON audit_trail (account_id, seq);

-- Checkpoints taken (also published as AuditCheckpoint and written to a file outside).
CREATE TABLE audit_checkpoints (
    seq      BIGINT PRIMARY KEY,
    hash     TEXT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL
);

-- Insert-only, enforced by the database. A role without superuser cannot get past this;
-- a superuser or the table owner can drop the trigger, which is why the chain and the
-- checkpoints outside the database exist.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the audit trail is insert-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_trail_insert_only
    BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_trail_no_truncate
    BEFORE TRUNCATE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_insert_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_trail, audit_checkpoints FROM PUBLIC;
