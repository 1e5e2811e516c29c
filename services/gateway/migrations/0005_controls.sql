-- The operator's restricted list as the gateway last set it (what GET lists); safety keeps
-- its own copy from `RestrictionChanged`. A release keeps the row, with restricted = false.
CREATE TABLE restrictions (
    scope      TEXT NOT NULL CHECK (scope IN ('symbol', 'account')),
    target     TEXT NOT NULL CHECK (target <> ''),
    restricted BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, target)
);

-- Cancel requests admitted in the last moments, per account: the cancel cap's window.
CREATE TABLE cancel_requests (
    user_id      TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX cancel_requests_by_user ON cancel_requests (user_id, requested_at);
