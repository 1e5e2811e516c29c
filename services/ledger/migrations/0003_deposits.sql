-- Each admin deposit (RecordDeposit) the ledger decided, by its id: credited (its journal
-- entry holds the money) or rejected with why (DepositRejected, nothing moved). A deposit is
-- decided once; one whose reference another deposit booked is rejected, never dropped.
CREATE TABLE deposits (
    deposit_id     TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    venue          TEXT NOT NULL,
    reference      TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('credited', 'rejected')),
    reason         TEXT CHECK ((status = 'rejected') = (reason IS NOT NULL)),
    cause_event_id UUID NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER deposits_insert_only BEFORE UPDATE OR DELETE OR TRUNCATE ON deposits
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
