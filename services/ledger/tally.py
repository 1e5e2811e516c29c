"""Replay as a tight loop: the ledger folded over its log in plain tuples and dicts.

`Book` (services.ledger.book) holds the ledger as the domain's objects, which is what tests
read best, but builds a dozen of them per message. `Tally` holds the same state as tuples
(an account is `(owner, asset, bucket)`, a journal row `(key, owner, cause, postings)`) and
folds the messages that are most of any log (a deposit credited, an order's hold placed,
a fill settled from an open hold, a hold released) with plain arithmetic. Every other case,
and any message the fast decoder did not read, goes through the domain's `decide` exactly as
`Book.apply` does, on the same state. A fast step that meets anything unusual (a refusal, a
shortfall, a hold of another user, a key booked already) gives up before changing anything
and lets `decide` answer. `tests/unit/ledger/test_replay_fast.py` folds arbitrary histories
both ways and asserts the same balances, holds, journal, refusals and discrepancies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from services.ledger.domain import (
    ZERO,
    AccountKey,
    Bucket,
    EntryKey,
    EntryKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerPolicy,
    View,
    decide,
    needs,
)
from services.ledger.domain.accounts import UNKNOWN_VENUE, USER_BUCKETS, WORLD_OWNER
from services.ledger.domain.settlement import symbol_assets
from services.ledger.errors import LedgerError, MalformedMessage, NegativeUserBalance
from services.ledger.replay_wire import (
    Logged,
    OrderApproved,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    RecordDeposit,
    no_cycle_collection,
)
from shared.contracts.execution import FillStatus
from shared.contracts.ledger import (
    DepositCredited,
    DepositRejected,
    HoldPurpose,
    LedgerDiscrepancy,
)
from shared.contracts.orders import OrderType, Side
from shared.money import BALANCE_LIMIT, MAX_DEPOSIT, QUANTUM, exact

Account = tuple[str, str, str]
"""(owner, asset, bucket)."""
Key = tuple[str, str, str]
"""An entry's natural key: (kind, reference, subreference)."""
Posting = tuple[Account, Decimal]
Row = tuple[Key, tuple[Posting, ...]]
"""An entry about to be booked."""
BookedRow = tuple[Key, str, str, tuple[Posting, ...]]
"""A booked entry: (key, owner, cause event id, postings)."""

AVAILABLE, HELD, WORLD = Bucket.AVAILABLE.value, Bucket.HELD.value, Bucket.WORLD.value
CUSTODY, FEES = Bucket.CUSTODY.value, Bucket.FEES.value
_USER = frozenset(b.value for b in USER_BUCKETS)
OPEN, CLOSED, VOID = HoldStatus.OPEN, HoldStatus.CLOSED, HoldStatus.VOID


@dataclass(slots=True)
class HoldRow:
    owner: str
    purpose: HoldPurpose
    asset: str
    venue: str
    amount: Decimal
    remaining: Decimal
    status: HoldStatus

    def as_hold(self, hold_id: str) -> Hold:
        return Hold(
            hold_id,
            self.owner,
            self.purpose,
            self.asset,
            self.venue,
            self.amount,
            self.remaining,
            self.status,
        )

    @classmethod
    def of(cls, hold: Hold) -> HoldRow:
        return cls(
            hold.owner,
            hold.purpose,
            hold.asset,
            hold.venue,
            hold.amount,
            hold.remaining,
            hold.status,
        )


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
            self._fee_factor = 1 + self.policy.max_fee_rate
        self._symbols: dict[str, tuple[str, str] | None] = {}

    # ---- the fold ----

    def fold(self, messages: Iterable[Logged]) -> Tally:
        """Apply `messages` in the order given; a redelivered event id is skipped."""
        seen: set[str] = set()
        fast = self._FAST
        with exact(), no_cycle_collection():
            for message in messages:
                if message.event_id in seen:
                    continue
                seen.add(message.event_id)
                step = fast.get(message.type) if message.body is not None else None
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
        self._book([_row(e) for e in outcome.entries], owner, logged.event_id)
        if outcome.hold is not None:
            self.holds[outcome.hold.hold_id] = HoldRow.of(outcome.hold)
        for event in outcome.events:
            if isinstance(event, DepositCredited | DepositRejected):
                self.deposits.add(event.deposit_id)
            elif isinstance(event, LedgerDiscrepancy):
                self.discrepancies.append((owner, event))
        self.applied += 1

    def _book(self, rows: list[Row], owner: str, cause: str) -> None:
        """All or nothing, like `Book._book` and the database transaction."""
        booked = self.booked
        for key, _ in rows:
            if key in booked:
                raise LedgerError(f"{EntryKey(EntryKind(key[0]), key[1], key[2])} booked twice")
        changes: dict[Account, Decimal] = {}
        for _, postings in rows:
            for account, amount in postings:
                changes[account] = changes[account] + amount if account in changes else amount
        balances, user = self.balances, _USER
        get = balances.get
        updated = [(a, get(a, ZERO) + delta) for a, delta in changes.items() if delta]
        for account, amount in updated:
            if amount < 0 and account[2] in user:
                below = sorted(a for a, v in updated if v < 0 and a[2] in user)
                keys = [AccountKey(o, asset, Bucket(b)) for o, asset, b in below]
                raise NegativeUserBalance(f"would overdraw {keys}")
        balances.update(updated)
        self.journal += [(key, owner, cause, postings) for key, postings in rows]
        booked.update(key for key, _ in rows)

    # ---- fast steps: True when applied, False to let `decide` answer ----

    def _deposit(self, logged: Logged) -> bool:
        body = logged.body
        assert isinstance(body, RecordDeposit)
        key = ("deposit", body.venue, body.reference)
        if body.deposit_id in self.deposits or key in self.booked:
            return False
        amount, owner, asset = Decimal(body.amount), logged.account_id, body.asset
        user, world = (owner, asset, AVAILABLE), (WORLD_OWNER, asset, WORLD)
        balances = self.balances
        if amount > MAX_DEPOSIT or not (
            abs(balances.get(user, ZERO) + amount) <= BALANCE_LIMIT
            and abs(balances.get(world, ZERO) - amount) <= BALANCE_LIMIT
        ):
            return False
        self._book([(key, ((world, -amount), (user, amount)))], owner, logged.event_id)
        self.deposits.add(body.deposit_id)
        self.applied += 1
        return True

    def _approved(self, logged: Logged) -> bool:
        body = logged.body
        assert isinstance(body, OrderApproved)
        order, owner = body.order, logged.account_id
        hold_id = order.order_id
        existing = self.holds.get(hold_id)
        if existing is not None:
            if existing.owner != owner:
                return False
            self.applied += 1  # held, rejected, closed or ended before: nothing
            return True
        amount = Decimal(order.amount)
        base, quote = order.symbol.split("/")
        if order.side is Side.SELL:
            asset, size = base, amount
        else:
            if order.type is OrderType.LIMIT:
                assert order.price is not None
                worst = Decimal(order.price)
            else:
                worst = Decimal(body.reference_price) * (1 + Decimal(body.price_band))
            cost = amount * worst * self._fee_factor
            asset, size = quote, cost.quantize(QUANTUM, rounding=ROUND_CEILING)
        user = (owner, asset, AVAILABLE)
        if size <= 0 or size > max(self.balances.get(user, ZERO), ZERO):
            return False
        moved = ((user, -size), ((owner, asset, HELD), size))
        self._book([(("hold", hold_id, ""), moved)], owner, logged.event_id)
        purpose = HoldPurpose.ORDER
        self.holds[hold_id] = HoldRow(owner, purpose, asset, order.exchange, size, size, OPEN)
        self.applied += 1
        return True

    def _filled(self, logged: Logged) -> bool:
        body = logged.body
        assert isinstance(body, OrderFilled)
        owner, order_id = logged.account_id, body.order_id
        hold = self.holds.get(order_id)
        assets = self._symbol(body.symbol)
        if (
            hold is None
            or hold.owner != owner
            or hold.status is not OPEN
            or assets is None
            or body.side not in ("buy", "sell")
        ):
            return False
        key = ("fill", order_id, body.trade_id)
        if key in self.booked:
            self.applied += 1  # the same trade again: booked once
            return True
        base, quote = assets
        venue = hold.venue or UNKNOWN_VENUE
        amount, price, fee = Decimal(body.amount), Decimal(body.price), Decimal(body.fee)
        custody = f"venue:{venue}"
        gross = amount * price
        # (asset, user amount, counterparty), credits before debits as `settle` orders them
        if body.side == "buy":
            credits = [(base, amount, (custody, base, CUSTODY))]
            due = gross.quantize(QUANTUM, rounding=ROUND_CEILING)
            debits = [(quote, due, (custody, quote, CUSTODY))]
        else:
            proceeds = gross.quantize(QUANTUM, rounding=ROUND_FLOOR)
            credits = [(quote, proceeds, (custody, quote, CUSTODY))]
            debits = [(base, amount, (custody, base, CUSTODY))]
        if fee > 0:
            debits.append((body.fee_asset, fee, (f"fees:{venue}", body.fee_asset, FEES)))
        balances = self.balances
        spendable = {
            a: balances.get((owner, a, AVAILABLE), ZERO) for a in (base, quote, body.fee_asset)
        }
        postings: list[Posting] = []
        for asset, credit, account in credits:
            if credit:
                postings += ((account, -credit), ((owner, asset, AVAILABLE), credit))
            spendable[asset] += credit
        hold_left, used = hold.remaining, ZERO
        for asset, due, account in debits:
            from_hold = min(due, hold_left) if hold.asset == asset else ZERO
            hold_left -= from_hold
            used += from_hold
            from_available = min(due - from_hold, max(spendable[asset], ZERO))
            spendable[asset] -= from_available
            if due - from_hold - from_available > 0:
                return False  # a shortfall to suspense, and a discrepancy: `decide` says it
            if from_hold:
                postings += (((owner, asset, HELD), -from_hold), (account, from_hold))
            if from_available:
                postings += (
                    ((owner, asset, AVAILABLE), -from_available),
                    (account, from_available),
                )
        rows: list[Row] = [(key, tuple(postings))] if postings else []
        remaining = hold.remaining - used
        closing = body.status is FillStatus.FILLED
        if closing and remaining:
            held, free = (owner, hold.asset, HELD), (owner, hold.asset, AVAILABLE)
            rows.append((("release", order_id, ""), ((held, -remaining), (free, remaining))))
        self._book(rows, owner, logged.event_id)
        hold.remaining, hold.status = (ZERO, CLOSED) if closing else (remaining, OPEN)
        self.applied += 1
        return True

    def _ended(self, logged: Logged) -> bool:
        body = logged.body
        assert isinstance(body, OrderCancelled | OrderFailed)
        owner, order_id = logged.account_id, body.order_id
        hold = self.holds.get(order_id)
        if hold is None:
            self.holds[order_id] = HoldRow(owner, HoldPurpose.ORDER, "", "", ZERO, ZERO, VOID)
        elif hold.owner != owner:
            return False
        elif hold.status is OPEN:
            left = hold.remaining
            if left:
                held, free = (owner, hold.asset, HELD), (owner, hold.asset, AVAILABLE)
                release = (("release", order_id, ""), ((held, -left), (free, left)))
                self._book([release], owner, logged.event_id)
            hold.remaining, hold.status = ZERO, CLOSED
        self.applied += 1
        return True

    def _symbol(self, symbol: str) -> tuple[str, str] | None:
        """(base, quote), or None for a symbol that is not BASE/QUOTE."""
        if symbol not in self._symbols:
            try:
                self._symbols[symbol] = symbol_assets(symbol)
            except MalformedMessage:
                self._symbols[symbol] = None
        return self._symbols[symbol]

    _FAST: dict[str, Callable[[Tally, Logged], bool]] = {
        "RecordDeposit": _deposit,
        "OrderApproved": _approved,
        "OrderFilled": _filled,
        "OrderCancelled": _ended,
        "OrderFailed": _ended,
    }

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


def _row(entry: JournalEntry) -> Row:
    k = entry.key
    postings = tuple(
        ((p.account.owner, p.account.asset, p.account.bucket.value), p.amount)
        for p in entry.postings
    )
    return (k.kind.value, k.reference, k.subreference), postings
