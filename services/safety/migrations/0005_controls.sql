-- The duplicate-order rule compares what the user asked for and when the gateway accepted it.
-- Orders decided before these columns existed have no accepted_at and are never compared.
ALTER TABLE order_decisions
    ADD COLUMN order_type  TEXT,
    ADD COLUMN price       NUMERIC(38, 18),
    ADD COLUMN mode        TEXT,
    ADD COLUMN exchange    TEXT,
    ADD COLUMN accepted_at TIMESTAMPTZ;
CREATE INDEX order_decisions_sent ON order_decisions (account_id, symbol, accepted_at)
    WHERE approved;

-- The duplicate window may be set per account too.
ALTER TABLE limit_overrides DROP CONSTRAINT limit_overrides_name_check;
ALTER TABLE limit_overrides ADD CONSTRAINT limit_overrides_name_check CHECK (name IN (
        'min_notional_usd', 'max_notional_usd', 'hourly_trade_limit', 'orders_per_second',
        'daily_volume_limit_usd', 'position_limit_usd', 'daily_loss_limit_usd',
        'withdrawal_daily_limit_usd', 'duplicate_window_seconds'));

-- The operator's restricted list (`RestrictionChanged`): the newest change (by its time) wins.
CREATE TABLE restrictions (
    scope      TEXT NOT NULL CHECK (scope IN ('symbol', 'account')),
    target     TEXT NOT NULL CHECK (target <> ''),
    restricted BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, target)
);
