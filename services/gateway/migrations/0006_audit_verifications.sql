-- Each verification of the audit chain run from the console (POST /v1/admin/audit/verify): who
-- ran it, when, and what it found. The newest is the System and Audit views' "last verification".
CREATE TABLE audit_verifications (
    verification_id BIGSERIAL PRIMARY KEY,
    verified_at     TIMESTAMPTZ NOT NULL,
    verified_by     TEXT NOT NULL,
    ok              BOOLEAN NOT NULL,
    rows_checked    BIGINT NOT NULL CHECK (rows_checked >= 0),
    checkpoints_checked INT NOT NULL CHECK (checkpoints_checked >= 0),
    last_seq        BIGINT NOT NULL,
    first_bad_seq   BIGINT,
    problem         TEXT,
    detail          TEXT,
    CHECK (ok = (problem IS NULL))
);
