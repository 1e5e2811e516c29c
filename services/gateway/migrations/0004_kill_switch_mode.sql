-- What an engaged switch lets through: 'halt' (nothing) or 'reduce_only' (sells only).
-- Every switch set before this column existed was a halt.
ALTER TABLE kill_switches
    ADD COLUMN mode TEXT NOT NULL DEFAULT 'halt' CHECK (mode IN ('halt', 'reduce_only'));

-- An account switch names its user in any letter case; the stored id is looked up by this.
CREATE INDEX users_by_lower_id ON users (lower(user_id));
