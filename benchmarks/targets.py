"""The performance targets (issue 16) beside what this run measured: printed, never asserted.

Each row names the figures it reads (`Report.figures` keys); a row whose figures this run did
not measure (its suite was left out) says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.harness import Figure

Figures = dict[str, Figure]


@dataclass(frozen=True)
class Target:
    measure: str
    target: str
    needs: tuple[str, ...]
    shown: Callable[[Figures], str]
    met: Callable[[Figures], bool]


def _rate(key: str) -> Callable[[Figures], str]:
    return lambda f: f"{f[key].rate:,.0f} {f[key].unit}"


def _at_least(key: str, floor: float) -> Callable[[Figures], bool]:
    return lambda f: f[key].rate >= floor


TARGETS = (
    Target(
        "accept → filled at the fixed rate, p50 / p99",
        "p50 ≤ 30 ms, p99 ≤ 100 ms at 50 orders/s",
        ("fixed_rate", "fixed_p50_ms", "fixed_p99_ms"),
        lambda f: (
            f"{f['fixed_p50_ms'].rate:,.0f} / {f['fixed_p99_ms'].rate:,.0f} ms "
            f"at {f['fixed_rate'].rate:,.0f} orders/s"
        ),
        lambda f: (
            f["fixed_rate"].rate >= 50
            and f["fixed_p50_ms"].rate <= 30
            and f["fixed_p99_ms"].rate <= 100
        ),
    ),
    Target(
        "end to end, accepted → filled, all five services",
        "≥ 300 orders/s",
        ("e2e",),
        _rate("e2e"),
        _at_least("e2e", 300),
    ),
    Target(
        "CPU per order, the five processes summed",
        "≤ 6 ms",
        ("cpu_ms_per_order",),
        lambda f: f"{f['cpu_ms_per_order'].rate:.1f} ms",
        lambda f: f["cpu_ms_per_order"].rate <= 6,
    ),
    Target(
        "ledger postings through broker + database",
        "≥ 10,000 postings/s",
        ("ledger_postings",),
        _rate("ledger_postings"),
        _at_least("ledger_postings", 10_000),
    ),
    Target(
        "ledger replay from PostgreSQL, beside the eventsourcing library",
        "≥ 200,000 events/s and ≥ 4x the library",
        ("ledger_replay_pg", "peer_replay"),
        lambda f: (
            f"{f['ledger_replay_pg'].rate:,.0f} events/s, "
            f"{f['ledger_replay_pg'].rate / f['peer_replay'].rate:.1f}x the library "
            f"({f['peer_replay'].rate:,.0f})"
        ),
        lambda f: (
            f["ledger_replay_pg"].rate >= 200_000
            and f["ledger_replay_pg"].rate >= 4 * f["peer_replay"].rate
        ),
    ),
    Target(
        "safety decisions through broker + database",
        "≥ 5,000 decisions/s",
        ("safety_db",),
        _rate("safety_db"),
        _at_least("safety_db", 5_000),
    ),
    Target(
        "audit appends through broker + database",
        "≥ 10,000 rows/s",
        ("audit_append",),
        _rate("audit_append"),
        _at_least("audit_append", 10_000),
    ),
    Target(
        "`audit verify`",
        "≥ 100,000 rows/s",
        ("audit_verify",),
        _rate("audit_verify"),
        _at_least("audit_verify", 100_000),
    ),
)


def targets_table(figures: Figures) -> str:
    """One line per target: what this run measured, the target, and whether it is met."""
    lines = [f"{'target (issue 16)':<64} {'this run':<44} {'target':<40} met"]
    for t in TARGETS:
        if all(key in figures for key in t.needs):
            shown, met = t.shown(figures), "yes" if t.met(figures) else "no"
        else:
            shown, met = "not measured (suite left out)", ""
        lines.append(f"{t.measure:<64} {shown:<44} {t.target:<40} {met}")
    return "\n".join(lines)
