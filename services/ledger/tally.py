"""Replay as a tight loop: the ledger folded over its log in plain tuples and dicts.

`Book` (services.ledger.book) holds the ledger as the domain's objects, which is what tests
read best, but builds a dozen of them per message. `Tally` holds the same state as tuples
(`services.ledger.tally_rows`) and folds the messages that are most of any log with plain
arithmetic (`services.ledger.tally_fast`). Every other case, and any message the fast
decoder did not read, goes through the domain's `decide` exactly as `Book.apply` does, on
the same state. `tests/unit/ledger/test_replay_fast.py` folds arbitrary histories both ways
and asserts the same balances, holds, journal, refusals and discrepancies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from services.ledger.domain import (
    ZERO,
    AccountKey,
    Bucket,
    EntryKey,
    EntryKind,
    LedgerPolicy,
    View,
    decide,
    needs,
)
from services.ledger.domain.accounts import WORLD_OWNER
from services.ledger.domain.settlement import symbol_assets
from services.ledger.errors import LedgerError, MalformedMessage, NegativeUserBalance
from services.ledger.replay_wire import Logged
from services.ledger.tally_fast import FAST_STEPS
from services.ledger.tally_rows import (
    AVAILABLE,
    HELD,
    OPEN,
    USER,
    WORLD,
    Account,
    BookedRow,
    HoldRow,
    Key,
    Row,
    row_of,
)
from shared.contracts.ledger import DepositCredited, DepositRejected, LedgerDiscrepancy
from shared.money import exact


class Tally:
    """The ledger's state, as replay rebuilds it (see the module's docstring)."""

    def __init__(self, policy: LedgerPolicy | None = None) -> None:
        self.policy = policy or LedgerPolicy()
        self.balances: dict[Account, Decimal] = {}
        self.holds: dict[str, HoldRow] = {}
        self.journal: list[BookedRow] = []
        self.booked: set[Key] = set()
        self.deposits: set[str] = set()
        self.discrepancies: list[tuple[str, LedgerDiscrepancy]] = []
        self.applied = 0
        self.refused: list[tuple[Logged, str]] = []
        self.by_domain = 0
        """Messages `decide` answered (the rest took a fast step)."""
        with exact():
            self.fee_factor = 1 + self.policy.max_fee_rate
        self._symbols: dict[str, tuple[str, str] | None] = {}

    # ---- the fold ----

    def fold(self, messages: Iterable[Logged]) -> Tally:
        """Apply `messages` in the order given; a redelivered event id is skipped."""
        seen: set[str] = set()
        see, step_for = seen.add, FAST_STEPS.get
        with exact():
            for message in messages:
                event_id = message.event_id
                if event_id in seen:
                    continue
                see(event_id)
                step = step_for(type(message))
                try:
                    if step is not None and step(self, message):
                        continue
                except LedgerError:
                    pass  # a fast step books all or nothing: let `decide` say why
                try:
                    self._apply_by_domain(message)
                except LedgerError as exc:
                    self.refused.append((message, str(exc)))
        return self

    def _apply_by_domain(self, logged: Logged) -> None:
        """`Book._apply` on this state: the domain decides."""
        self.by_domain += 1
        message = logged.message()
        need = needs(message.payload)
        if need is None:
            return
        owner = message.account_id
        row = self.holds.get(need.hold_id) if need.hold_id is not None else None
        key = need.entry_key
        view = View(
            hold=row.as_hold(need.hold_id)
            if row is not None and need.hold_id is not None
            else None,
            available={a: self.balances.get((owner, a, AVAILABLE), ZERO) for a in need.assets},
            already_booked=key is not None
            and (key.kind.value, key.reference, key.subreference) in self.booked,
            world=self.balances.get((WORLD_OWNER, need.world_asset, WORLD), ZERO)
            if need.world_asset
            else ZERO,
            deposit_decided=need.deposit_id in self.deposits,
        )
        outcome = decide(owner, message.payload, view, self.policy)
        self.book([row_of(e) for e in outcome.entries], owner, logged.event_id)
        if outcome.hold is not None:
            self.holds[outcome.hold.hold_id] = HoldRow.of(outcome.hold)
        for event in outcome.events:
            if isinstance(event, DepositCredited | DepositRejected):
                self.deposits.add(event.deposit_id)
            elif isinstance(event, LedgerDiscrepancy):
                self.discrepancies.append((owner, event))
        self.applied += 1

    def book(self, rows: list[Row], owner: str, cause: str) -> None:
        """All or nothing, like `Book._book` and the database transaction."""
        booked, balances = self.booked, self.balances
        for key, _ in rows:
            if key in booked:
                raise LedgerError(f"{EntryKey(EntryKind(key[0]), key[1], key[2])} booked twice")
        after: dict[Account, Decimal] = {}
        get = balances.get
        for _, postings in rows:
            for account, amount in postings:
                after[account] = (
                    after[account] if account in after else get(account, ZERO)
                ) + amount
        user = USER
        for account, amount in after.items():
            if amount < 0 and account[2] in user:
                below = sorted(a for a, v in after.items() if v < 0 and a[2] in user)
                keys = [AccountKey(o, asset, Bucket(b)) for o, asset, b in below]
                raise NegativeUserBalance(f"would overdraw {keys}")
        for account, amount in after.items():
            if amount or account in balances:  # an account netted to zero is not opened
                balances[account] = amount
        journal = self.journal
        for key, postings in rows:
            journal.append((key, owner, cause, postings))
            booked.add(key)

    def assets_of(self, symbol: str) -> tuple[str, str] | None:
        """(base, quote), or None for a symbol that is not BASE/QUOTE."""
        if symbol not in self._symbols:
            try:
                self._symbols[symbol] = symbol_assets(symbol)
            except MalformedMessage:
                self._symbols[symbol] = None
        return self._symbols[symbol]

    # ---- what replay reads from it ----

    def balance_map(self) -> dict[AccountKey, Decimal]:
        return {AccountKey(o, a, Bucket(b)): v for (o, a, b), v in self.balances.items()}

    def postings(self) -> Iterator[tuple[int, Account, Decimal]]:
        """(journal entry number from 1, account, amount) of every posting."""
        for n, (_, _, _, postings) in enumerate(self.journal, start=1):
            for account, amount in postings:
                yield n, account, amount

    def violations(self) -> list[str]:
        """`Book.violations` over this state: empty when every invariant holds."""
        with exact():
            return self._violations()

    def _violations(self) -> list[str]:
        problems: list[str] = []
        per_asset: dict[str, Decimal] = defaultdict(Decimal)
        keys = self.balance_map()
        for account, amount in keys.items():
            per_asset[account.asset] += amount
            if account.is_user and amount < 0:
                problems.append(f"{account} is negative: {amount}")
        problems += [f"{a} sums to {t}, not zero" for a, t in per_asset.items() if t != 0]
        open_holds: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for hold_id, hold in self.holds.items():
            if hold.status is OPEN:
                open_holds[(hold.owner, hold.asset)] += hold.remaining
            elif hold.remaining != 0:
                problems.append(f"hold {hold_id} is {hold.status} with {hold.remaining} left")
        held_rows = {(o, a): v for (o, a, b), v in self.balances.items() if b == HELD}
        for pair in held_rows.keys() | open_holds.keys():
            if held_rows.get(pair, ZERO) != open_holds.get(pair, ZERO):
                problems.append(
                    f"held {pair} is {held_rows.get(pair)}, open holds {open_holds[pair]}"
                )
        replayed: dict[Account, Decimal] = defaultdict(Decimal)
        for _, posted, amount in self.postings():
            replayed[posted] += amount
        for each in replayed.keys() | self.balances.keys():
            if replayed.get(each, ZERO) != self.balances.get(each, ZERO):
                key = AccountKey(each[0], each[1], Bucket(each[2]))
                problems.append(f"{key} balance differs from the sum of its postings")
        return problems
