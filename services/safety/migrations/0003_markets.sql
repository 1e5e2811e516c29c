-- The markets each venue lists, with the venue's own rules (`MarketsListed` from execution).
-- A venue with no row here is not known yet: its orders are rejected with INVALID_SYMBOL.
CREATE TABLE markets (
    venue       TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    amount_min  NUMERIC,
    amount_max  NUMERIC,
    cost_min    NUMERIC,
    cost_max    NUMERIC,
    amount_step NUMERIC,
    price_step  NUMERIC,
    listed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (venue, symbol)
);
