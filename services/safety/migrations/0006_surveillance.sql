-- Post-trade controls (execution throttle, wash trade, order-to-trade ratio) compare an
-- account's fills: each booked fill keeps whose it was, what and when (the fill's occurred_at).
-- Fills booked before these columns existed have no account and are never counted.
ALTER TABLE booked_fills
    ADD COLUMN account_id TEXT,
    ADD COLUMN symbol     TEXT,
    ADD COLUMN side       TEXT,
    ADD COLUMN price      NUMERIC(38, 18),
    ADD COLUMN filled_at  TIMESTAMPTZ;
CREATE INDEX booked_fills_account ON booked_fills (account_id, filled_at)
    WHERE account_id IS NOT NULL;

-- One row per surveillance episode in progress: a flag is raised when a rule matches and no
-- match of it was seen within its window before (see domain.surveillance.starts_episode).
CREATE TABLE surveillance_episodes (
    account_id TEXT NOT NULL,
    rule       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, rule, subject)
);

-- The throttle and the order-to-trade thresholds may be set per account too.
ALTER TABLE limit_overrides DROP CONSTRAINT limit_overrides_name_check;
ALTER TABLE limit_overrides ADD CONSTRAINT limit_overrides_name_check CHECK (name IN (
        'min_notional_usd', 'max_notional_usd', 'hourly_trade_limit', 'orders_per_second',
        'daily_volume_limit_usd', 'position_limit_usd', 'daily_loss_limit_usd',
        'withdrawal_daily_limit_usd', 'duplicate_window_seconds', 'execution_throttle_fills',
        'execution_throttle_window_seconds', 'order_to_trade_ratio',
        'order_to_trade_min_orders'));
