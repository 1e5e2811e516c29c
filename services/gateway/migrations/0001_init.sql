-- The gateway's own state: users and their secrets (encrypted), idempotency keys,
-- login failures (rate limits), kill switches, and the read models built from events.

CREATE TABLE users (
    user_id             TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    totp_secret         BYTEA,          -- AES-GCM sealed; set once 2FA is confirmed
    totp_pending_secret BYTEA,          -- sealed; enrolled, not yet confirmed
    totp_enabled        BOOLEAN NOT NULL DEFAULT false,
    totp_last_counter   BIGINT,         -- time step of the last accepted code (replay guard)
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE login_failures (
    subject   TEXT NOT NULL,            -- 'account:<email>', 'address:<ip>', 'totp:<user id>'
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_subject ON login_failures (subject, failed_at);

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INT NOT NULL,
    response_body BYTEA NOT NULL,       -- the exact bytes answered, replayed as they were
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, endpoint, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE orders (
    seq           BIGSERIAL NOT NULL UNIQUE,
    order_id      TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    side          TEXT NOT NULL,
    type          TEXT NOT NULL,
    mode          TEXT NOT NULL,
    exchange      TEXT NOT NULL,
    amount        NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    price         NUMERIC(38, 18),
    status        TEXT NOT NULL,
    reject_reason TEXT,
    reject_detail TEXT,
    filled_amount NUMERIC(38, 18) NOT NULL DEFAULT 0,
    average_price NUMERIC(38, 18),
    fees          JSONB NOT NULL DEFAULT '{}'::jsonb,   -- {asset: decimal string}
    fee_asset     TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_user ON orders (user_id, seq DESC);

CREATE TABLE order_fills (
    order_id  TEXT NOT NULL REFERENCES orders (order_id),
    trade_id  TEXT NOT NULL,
    amount    NUMERIC(38, 18) NOT NULL,
    price     NUMERIC(38, 18) NOT NULL,
    fee       NUMERIC(38, 18) NOT NULL,
    fee_asset TEXT NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);

CREATE TABLE withdrawals (
    withdrawal_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    asset         TEXT NOT NULL,
    amount        NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    address       TEXT NOT NULL,
    network       TEXT,
    exchange      TEXT NOT NULL,
    status        TEXT NOT NULL,
    reject_reason TEXT,
    reject_detail TEXT,
    txid          TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE deposits (
    deposit_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    asset      TEXT NOT NULL,
    amount     NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    reference  TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE balances (
    user_id    TEXT NOT NULL,
    asset      TEXT NOT NULL,
    available  NUMERIC(38, 18) NOT NULL,
    held       NUMERIC(38, 18) NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, asset)
);

-- The owner's view of the trail: every message of the user's orders, withdrawals, deposits
-- and account activity that this gateway emitted or consumed. hash/prev_hash stay NULL here:
-- the audit service holds the chain.
CREATE TABLE audit_entries (
    seq            BIGSERIAL PRIMARY KEY,
    event_id       UUID NOT NULL UNIQUE,
    user_id        TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    type           TEXT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    producer       TEXT NOT NULL,
    hash           TEXT,
    prev_hash      TEXT
);
CREATE INDEX audit_entries_by_correlation ON audit_entries (correlation_id, seq);

CREATE TABLE exchange_keys (
    key_id       TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    exchange     TEXT NOT NULL,
    api_key      BYTEA NOT NULL,        -- all three sealed with AES-GCM
    secret       BYTEA NOT NULL,
    password     BYTEA,
    validated    BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX exchange_keys_by_user ON exchange_keys (user_id);

CREATE TABLE kill_switches (
    scope      TEXT NOT NULL CHECK (scope IN ('global', 'account', 'symbol')),
    target     TEXT NOT NULL DEFAULT '',
    engaged    BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, target)
);
