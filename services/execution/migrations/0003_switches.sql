-- The kill switches as execution last heard of them (`KillSwitchChanged`, newest by the event's
-- time): an order safety approved just before a switch, reaching execution after it, is
-- cancelled instead of placed. A global switch has the target ''.
CREATE TABLE kill_switches (
    scope      TEXT NOT NULL CHECK (scope IN ('global', 'account', 'symbol')),
    target     TEXT NOT NULL,
    engaged    BOOLEAN NOT NULL,
    mode       TEXT NOT NULL CHECK (mode IN ('halt', 'reduce_only')),
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, target)
);

-- Each account's dead man's switch (`CancelAllAfterArmed`, newest by the gateway's time):
-- unless armed again, every open order of the account is cancelled at `armed_until` (NULL:
-- disarmed), once (`fired_at`). `venues_told`: the network venues' own timers were set.
CREATE TABLE cancel_all_after (
    account_id  TEXT PRIMARY KEY,
    armed_at    TIMESTAMPTZ NOT NULL,
    armed_until TIMESTAMPTZ,
    fired_at    TIMESTAMPTZ,
    venues_told BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX cancel_all_after_due ON cancel_all_after (armed_until)
    WHERE fired_at IS NULL AND armed_until IS NOT NULL;
CREATE INDEX cancel_all_after_untold ON cancel_all_after (armed_at) WHERE NOT venues_told;
