-- The ledger: a double-entry journal (insert-only), holds, and balances projected from the journal.

-- Refuses any change to a table that is a record of what happened.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: the ledger''s records are insert-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- One entry per natural key: a deposit (venue, reference), a fill (order, trade), a hold,
-- a release, a sent withdrawal. The unique key is what books each of them once.
CREATE TABLE journal (
    entry_id       BIGSERIAL PRIMARY KEY,
    kind           TEXT NOT NULL
                   CHECK (kind IN ('deposit', 'hold', 'fill', 'release', 'withdrawal')),
    reference      TEXT NOT NULL,
    subreference   TEXT NOT NULL DEFAULT '',
    account_id     TEXT NOT NULL,
    cause_event_id UUID NOT NULL,
    booked_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (kind, reference, subreference)
);

CREATE TABLE postings (
    posting_id BIGSERIAL PRIMARY KEY,
    entry_id   BIGINT NOT NULL REFERENCES journal (entry_id),
    owner      TEXT NOT NULL,
    asset      TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    amount     NUMERIC(38, 18) NOT NULL CHECK (amount <> 0)
);
CREATE INDEX postings_by_entry ON postings (entry_id);
CREATE INDEX postings_by_account ON postings (owner, asset, bucket);

-- Every entry's postings are inserted in one statement; this checks each sums to zero per asset.
CREATE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
BEGIN
    SELECT entry_id, asset, sum(amount) AS total INTO bad
      FROM new_postings GROUP BY entry_id, asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: %', bad.entry_id, bad.asset, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION postings_balanced();

-- The projection: one row per account. User buckets never below zero.
CREATE TABLE balances (
    owner   TEXT NOT NULL,
    asset   TEXT NOT NULL,
    bucket  TEXT NOT NULL,
    is_user BOOLEAN NOT NULL,
    amount  NUMERIC(38, 18) NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, asset, bucket),
    CHECK (is_user = (bucket IN ('available', 'held'))),
    CHECK (NOT is_user OR amount >= 0)
);

-- Two-phase holds. hold_id = the order id or the withdrawal id.
CREATE TABLE holds (
    hold_id    TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('order', 'withdrawal')),
    asset      TEXT NOT NULL,
    venue      TEXT NOT NULL,
    amount     NUMERIC(38, 18) NOT NULL CHECK (amount >= 0),
    remaining  NUMERIC(38, 18) NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    status     TEXT NOT NULL CHECK (status IN ('open', 'closed', 'rejected', 'void')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status = 'open' OR remaining = 0)
);
CREATE INDEX holds_open ON holds (account_id, asset) WHERE status = 'open';

-- The version of each user's (asset) balance carried by BalanceChanged: only grows.
CREATE TABLE balance_versions (
    account_id TEXT NOT NULL,
    asset      TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    PRIMARY KEY (account_id, asset)
);

-- What the ledger could not book as expected: recorded, never lost.
CREATE TABLE discrepancies (
    discrepancy_id BIGSERIAL PRIMARY KEY,
    account_id     TEXT NOT NULL,
    hold_id        TEXT,
    asset          TEXT NOT NULL,
    amount         NUMERIC(38, 18) NOT NULL,
    detail         TEXT NOT NULL,
    cause_event_id UUID NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The order in which the ledger applied the messages it acts on: replay folds them in it.
CREATE TABLE applied_messages (
    seq        BIGSERIAL PRIMARY KEY,
    event_id   UUID NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    account_id TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER journal_insert_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER postings_insert_only BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER discrepancies_insert_only BEFORE UPDATE OR DELETE OR TRUNCATE ON discrepancies
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER applied_messages_insert_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON applied_messages
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
