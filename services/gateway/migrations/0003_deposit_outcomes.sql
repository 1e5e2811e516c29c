-- A deposit's reference is unique across every deposit (any user, any asset): the ledger
-- credits each (venue, reference) once, so a second deposit under a used reference would be
-- lost. The index refuses it even when two requests race (409 deposit_reference_taken).
-- A database that already holds such duplicates fails here: they are the lost deposits.
CREATE UNIQUE INDEX deposits_reference ON deposits (reference);

-- What the ledger decided: credited, or rejected (terminal) with its reason.
ALTER TABLE deposits
    ADD COLUMN status TEXT NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'credited', 'rejected')),
    ADD COLUMN reject_reason TEXT,
    ADD COLUMN reject_detail TEXT,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
