-- Orders at venues across the network: sent by a background task, never inside a transaction.
-- `submissions` counts sends; `not_found` counts "order does not exist" answers in a row while
-- the outcome is unknown; `failures` counts inconclusive looks (for the backoff);
-- `next_check_at` is when the order is next sent/looked at (a lease while a request is out).
ALTER TABLE orders
    ADD COLUMN submissions      INT NOT NULL DEFAULT 0 CHECK (submissions >= 0),
    ADD COLUMN not_found        INT NOT NULL DEFAULT 0 CHECK (not_found >= 0),
    ADD COLUMN failures         INT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    ADD COLUMN next_check_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX orders_remote_due ON orders (next_check_at)
    WHERE status IN ('pending', 'open', 'unknown') AND venue <> 'paper';

-- Users' exchange keys, sealed (`shared.sealed`): the plaintext is never stored.
CREATE TABLE exchange_keys (
    key_id        TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    exchange      TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'unchecked'
                  CHECK (status IN ('unchecked', 'valid', 'invalid')),
    detail        TEXT NOT NULL DEFAULT '',
    failures      INT NOT NULL DEFAULT 0,
    next_check_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    added_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    checked_at    TIMESTAMPTZ
);
CREATE INDEX exchange_keys_by_account ON exchange_keys (account_id, exchange, added_at);

-- Withdrawals to venues across the network follow the orders' discipline.
ALTER TABLE withdrawals
    ADD COLUMN submissions   INT NOT NULL DEFAULT 0,
    ADD COLUMN not_found     INT NOT NULL DEFAULT 0,
    ADD COLUMN failures      INT NOT NULL DEFAULT 0,
    ADD COLUMN next_check_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX withdrawals_remote_due ON withdrawals (next_check_at)
    WHERE status IN ('pending', 'unknown') AND venue <> 'paper';

-- Every venue deposit reported as `DepositDetected`, once per (venue, account, tx id).
CREATE TABLE deposits_seen (
    venue       TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    txid        TEXT NOT NULL,
    asset       TEXT NOT NULL,
    amount      NUMERIC(38, 18) NOT NULL CHECK (amount > 0),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, account_id, txid)
);
