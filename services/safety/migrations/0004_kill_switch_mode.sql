-- What an engaged switch lets through: 'halt' (nothing) or 'reduce_only' (sells only).
-- Every switch set before this column existed was a halt.
ALTER TABLE kill_switches
    ADD COLUMN mode TEXT NOT NULL DEFAULT 'halt' CHECK (mode IN ('halt', 'reduce_only'));
