-- What the operator console shows of each account at each venue: when its last report came and
-- how it went, and, per asset, the venue's total and the ledger's total it was last compared
-- with (drift = venue_total - ledger_total). Replaced by each report compared; a report not
-- compared (the account had an open hold there) moves only `last_report_at`/`last_outcome`.
ALTER TABLE venue_reconciliations
    ADD COLUMN last_report_at TIMESTAMPTZ,
    ADD COLUMN last_outcome   TEXT
        CHECK (last_outcome IN ('agreed', 'disagreed', 'discrepancy', 'skipped_open_hold'));

CREATE TABLE venue_comparisons (
    account_id   TEXT NOT NULL,
    venue        TEXT NOT NULL,
    asset        TEXT NOT NULL,
    ledger_total NUMERIC(38, 18) NOT NULL,
    venue_total  NUMERIC(38, 18) NOT NULL,
    PRIMARY KEY (account_id, venue, asset),
    FOREIGN KEY (account_id, venue) REFERENCES venue_reconciliations (account_id, venue)
);
