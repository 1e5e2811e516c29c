-- Safety's own state. Money is NUMERIC(38, 18); times are UTC timestamps.

-- The latest reference price per symbol; an older tick never overwrites a newer one.
CREATE TABLE reference_prices (
    symbol      TEXT PRIMARY KEY,
    venue       TEXT NOT NULL,
    price       NUMERIC(38, 18) NOT NULL CHECK (price > 0),
    sequence    BIGINT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL
);

-- One row per order safety decided: the natural key that makes a repeated command count once.
-- Approved rows carry the USD value counted toward the limits; `open` marks an approved order
-- that may still fill (its unfilled buy amount counts toward the position limit).
CREATE TABLE order_decisions (
    order_id       TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    base_asset     TEXT NOT NULL,
    side           TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    amount         NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    decided_at     TIMESTAMPTZ NOT NULL,
    approved       BOOLEAN NOT NULL,
    reason         TEXT,
    rule           TEXT,
    notional_usd   NUMERIC(38, 18),
    quote_usd_rate NUMERIC(38, 18),
    filled_amount  NUMERIC(38, 18) NOT NULL DEFAULT 0,
    open           BOOLEAN NOT NULL DEFAULT false,
    CHECK (approved = (notional_usd IS NOT NULL)),
    CHECK (NOT open OR approved)
);
CREATE INDEX order_decisions_recent ON order_decisions (account_id, decided_at);
CREATE INDEX order_decisions_open ON order_decisions (account_id, base_asset) WHERE open;

CREATE TABLE withdrawal_decisions (
    withdrawal_id TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    asset         TEXT NOT NULL,
    amount        NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    decided_at    TIMESTAMPTZ NOT NULL,
    approved      BOOLEAN NOT NULL,
    reason        TEXT,
    rule          TEXT,
    amount_usd    NUMERIC(38, 18),
    CHECK (approved = (amount_usd IS NOT NULL))
);
CREATE INDEX withdrawal_decisions_recent ON withdrawal_decisions (account_id, decided_at);

-- Per account and UTC day: USD order volume approved, USD withdrawn, realised P&L.
CREATE TABLE daily_totals (
    account_id TEXT NOT NULL,
    day        DATE NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('order_volume', 'withdrawn', 'realised_pnl')),
    amount_usd NUMERIC(38, 18) NOT NULL,
    PRIMARY KEY (account_id, day, kind)
);

CREATE TABLE positions (
    account_id       TEXT NOT NULL,
    asset            TEXT NOT NULL,
    quantity         NUMERIC(38, 18) NOT NULL,
    average_cost_usd NUMERIC(38, 18) NOT NULL CHECK (average_cost_usd >= 0),
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, asset)
);

-- Fills and failures already booked, by their natural keys: each counts once.
CREATE TABLE booked_fills (
    order_id  TEXT NOT NULL,
    trade_id  TEXT NOT NULL,
    booked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, trade_id)
);
CREATE TABLE booked_failures (
    order_id  TEXT PRIMARY KEY,
    booked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE failure_streaks (
    account_id           TEXT PRIMARY KEY,
    consecutive_failures INT NOT NULL CHECK (consecutive_failures >= 0),
    last_failure_at      TIMESTAMPTZ
);

-- Global switch: target ''. The newest change (by its time) wins.
CREATE TABLE kill_switches (
    scope      TEXT NOT NULL CHECK (scope IN ('global', 'account', 'symbol')),
    target     TEXT NOT NULL,
    engaged    BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, target),
    CHECK ((scope = 'global') = (target = ''))
);

-- Each exchange key's last validation by execution (`ExchangeKeyValidated`). A real-money
-- order needs a key marked valid for its exchange; with none, it fails closed.
CREATE TABLE exchange_keys (
    account_id TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    exchange   TEXT NOT NULL,
    valid      BOOLEAN NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, key_id)
);

-- An operator's per-account limits; the names are the settings that may be overridden.
CREATE TABLE limit_overrides (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL CHECK (name IN (
        'min_notional_usd', 'max_notional_usd', 'hourly_trade_limit', 'orders_per_second',
        'daily_volume_limit_usd', 'position_limit_usd', 'daily_loss_limit_usd',
        'withdrawal_daily_limit_usd')),
    value      NUMERIC(38, 18) NOT NULL CHECK (value >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, name)
);
