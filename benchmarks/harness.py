"""Shared pieces of `make bench`: the infrastructure, a stopwatch, and the printed table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    rate: float
    unit: str
    baseline: str | None = None


@dataclass
class Report:
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        key: str,
        name: str,
        count: int,
        seconds: float,
        unit: str,
        baseline: str | None = None,
    ) -> Figure:
        figure = Figure(name, count / seconds, unit, baseline)
        self.figures[key] = figure
        print(f"  {name:<58} {figure.rate:>12,.0f} {unit}", flush=True)
        return figure

    def figures_add_rate(
        self, key: str, name: str, rate: float, unit: str, baseline: str | None = None
    ) -> Figure:
        """A figure measured as a rate already (e.g. after excluding a warm-up)."""
        return self.add(key, name, int(rate * 1000), 1000.0, unit, baseline)

    def table(self) -> str:
        lines = [f"{'measure':<58} {'rate':>12}  {'unit':<10} {'ratio to raw limit'}"]
        for figure in self.figures.values():
            ratio = ""
            if figure.baseline and figure.baseline in self.figures:
                base = self.figures[figure.baseline]
                ratio = f"{figure.rate / base.rate:6.1%} of {base.name}"
            lines.append(f"{figure.name:<58} {figure.rate:>12,.0f}  {figure.unit:<10} {ratio}")
        return "\n".join([*lines, "", *self.notes])


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then `t[0]` is the elapsed seconds."""
    elapsed = [0.0]
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed[0] = time.perf_counter() - start
