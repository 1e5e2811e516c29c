-- Accounts safety has seen registered (`UserRegistered`): a command from any other account is
-- rejected with ACCOUNT_INACTIVE. Accounts safety already decided for before it kept this
-- table were created through the gateway, so they are carried over as known.
CREATE TABLE known_accounts (
    account_id    TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL
);
INSERT INTO known_accounts (account_id, role, registered_at)
SELECT account_id, 'unknown', min(decided_at)
FROM (
    SELECT account_id, decided_at FROM order_decisions
    UNION ALL
    SELECT account_id, decided_at FROM withdrawal_decisions
) AS decided
GROUP BY account_id;

-- When the user made each request (its command's `occurred_at`, clamped near the decision
-- time): the rolling windows count by it, so a backlog delivered at once is not a burst.
ALTER TABLE order_decisions ADD COLUMN requested_at TIMESTAMPTZ;
UPDATE order_decisions SET requested_at = decided_at;
ALTER TABLE order_decisions ALTER COLUMN requested_at SET NOT NULL;
DROP INDEX order_decisions_recent;
CREATE INDEX order_decisions_requested ON order_decisions (account_id, requested_at);

ALTER TABLE withdrawal_decisions ADD COLUMN requested_at TIMESTAMPTZ;
UPDATE withdrawal_decisions SET requested_at = decided_at;
ALTER TABLE withdrawal_decisions ALTER COLUMN requested_at SET NOT NULL;
DROP INDEX withdrawal_decisions_recent;
CREATE INDEX withdrawal_decisions_requested ON withdrawal_decisions (account_id, requested_at);
