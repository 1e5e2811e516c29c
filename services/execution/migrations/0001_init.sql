-- Execution's record of orders: written (with the client order id) before the venue is asked.
CREATE TABLE orders (
    order_id        TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    client_order_id TEXT NOT NULL UNIQUE,
    venue           TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    type            TEXT NOT NULL CHECK (type IN ('market', 'limit')),
    amount          NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    price           NUMERIC(38, 18) CHECK (price > 0),
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'open', 'unknown', 'filled', 'cancelled', 'failed')),
    filled_amount   NUMERIC(38, 18) NOT NULL DEFAULT 0 CHECK (filled_amount >= 0),
    venue_order_id  TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_not_terminal ON orders (venue, symbol)
    WHERE status IN ('pending', 'open', 'unknown');

-- Every venue trade reported as `OrderFilled`, once (keyed by the venue's trade id).
CREATE TABLE order_fills (
    venue       TEXT NOT NULL,
    trade_id    TEXT NOT NULL,
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    amount      NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    price       NUMERIC(38, 18) NOT NULL CHECK (price > 0),
    fee         NUMERIC(38, 18) NOT NULL CHECK (fee >= 0),
    fee_asset   TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, trade_id)
);
CREATE INDEX order_fills_by_order ON order_fills (order_id);

-- A CancelOrder that arrived before the order's FundsHeld: the order is cancelled, never placed.
CREATE TABLE early_cancels (
    order_id     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE withdrawals (
    withdrawal_id TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    venue         TEXT NOT NULL,
    asset         TEXT NOT NULL,
    amount        NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    address       TEXT NOT NULL,
    network       TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unknown')),
    txid          TEXT,
    detail        TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The paper venue's own state: market prices, its order book and trades, its withdrawals.
CREATE TABLE paper_prices (
    symbol     TEXT PRIMARY KEY,
    price      NUMERIC(38, 18) NOT NULL CHECK (price > 0),
    sequence   BIGINT NOT NULL CHECK (sequence >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE paper_orders (
    client_order_id TEXT PRIMARY KEY,
    venue_order_id  TEXT NOT NULL UNIQUE,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    type            TEXT NOT NULL CHECK (type IN ('market', 'limit')),
    amount          NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    price           NUMERIC(38, 18) CHECK (price > 0),
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed', 'canceled')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX paper_orders_resting ON paper_orders (symbol) WHERE status = 'open';

CREATE TABLE paper_trades (
    seq             BIGSERIAL PRIMARY KEY,
    trade_id        TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL REFERENCES paper_orders (client_order_id),
    amount          NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    price           NUMERIC(38, 18) NOT NULL CHECK (price > 0),
    fee             NUMERIC(38, 18) NOT NULL CHECK (fee >= 0),
    fee_asset       TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX paper_trades_by_order ON paper_trades (client_order_id, seq);

CREATE TABLE paper_withdrawals (
    withdrawal_id TEXT PRIMARY KEY,
    txid          TEXT NOT NULL UNIQUE,
    asset         TEXT NOT NULL,
    amount        NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    address       TEXT NOT NULL,
    network       TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
