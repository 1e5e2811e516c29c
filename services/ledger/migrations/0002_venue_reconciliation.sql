-- Reconciliation with the venues: per (account, venue), the newest report compared and how many
-- compared reports in a row disagreed; and every discrepancy raised (insert-only).
CREATE TABLE venue_reconciliations (
    account_id       TEXT NOT NULL,
    venue            TEXT NOT NULL,
    last_observed_at TIMESTAMPTZ,
    streak           INTEGER NOT NULL CHECK (streak >= 0),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, venue)
);

CREATE TABLE venue_discrepancies (
    discrepancy_id BIGSERIAL PRIMARY KEY,
    account_id     TEXT NOT NULL,
    venue          TEXT NOT NULL,
    asset          TEXT NOT NULL,
    ledger_total   NUMERIC(38, 18) NOT NULL,
    venue_total    NUMERIC(38, 18) NOT NULL,
    observed_at    TIMESTAMPTZ NOT NULL,
    cause_event_id UUID NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER venue_discrepancies_insert_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON venue_discrepancies
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
