"""The ledger's invariants, checked against the database (tests, `cryptoorch ledger check`).

Each query returns the rows that break one invariant; an empty list means the
books are sound. It only reads, so it can run beside a live ledger (run it in a
REPEATABLE READ transaction for one consistent snapshot).
"""

from __future__ import annotations

from shared.db import Connection

_CHECKS: list[tuple[str, str]] = [
    (
        "asset {0} sums to {1} over all accounts, not zero",
        "SELECT asset, sum(amount) FROM balances GROUP BY asset HAVING sum(amount) <> 0",
    ),
    (
        "journal entry {0} does not balance in {1}: {2}",
        "SELECT entry_id, asset, sum(amount) FROM postings "
        "GROUP BY entry_id, asset HAVING sum(amount) <> 0",
    ),
    (
        "user bucket {0}/{1}/{2} is negative: {3}",
        "SELECT owner, asset, bucket, amount FROM balances WHERE is_user AND amount < 0",
    ),
    (
        "held {1} of {0} is {2} but its open holds total {3}",
        "SELECT coalesce(b.owner, h.account_id), coalesce(b.asset, h.asset),"
        " coalesce(b.amount, 0), coalesce(h.total, 0)"
        " FROM (SELECT owner, asset, amount FROM balances WHERE bucket = 'held') b"
        " FULL JOIN (SELECT account_id, asset, sum(remaining) AS total FROM holds"
        "            WHERE status = 'open' GROUP BY account_id, asset) h"
        " ON b.owner = h.account_id AND b.asset = h.asset"
        " WHERE coalesce(b.amount, 0) <> coalesce(h.total, 0)",
    ),
    (
        "balance of {0}/{1}/{2} is {3} but its postings sum to {4}",
        "SELECT coalesce(b.owner, p.owner), coalesce(b.asset, p.asset),"
        " coalesce(b.bucket, p.bucket), coalesce(b.amount, 0), coalesce(p.total, 0)"
        " FROM balances b"
        " FULL JOIN (SELECT owner, asset, bucket, sum(amount) AS total FROM postings"
        "            GROUP BY owner, asset, bucket) p"
        " ON b.owner = p.owner AND b.asset = p.asset AND b.bucket = p.bucket"
        " WHERE coalesce(b.amount, 0) <> coalesce(p.total, 0)",
    ),
    (
        "hold {0} is {1} with {2} still remaining",
        "SELECT hold_id, status, remaining FROM holds WHERE status <> 'open' AND remaining <> 0",
    ),
]


async def check_invariants(conn: Connection) -> list[str]:
    """Every broken invariant, one line each; empty when the ledger is sound."""
    problems: list[str] = []
    for template, query in _CHECKS:
        for row in await conn.fetch(query):
            problems.append(template.format(*row.values()))
    return problems
