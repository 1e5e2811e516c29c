"""Files generated from the contracts (`deploy.topics`, `deploy.acls`): written by their
module's `main`, compared with `--check` (which `make lint` runs through `deploy.validate`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Render = Callable[[], Mapping[Path, str]]


def stale(render: Render, root: Path) -> list[Path]:
    """Generated files under `root` that are missing or differ from what `render` gives."""
    return [
        path
        for path, text in render().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]


def generator_main(module: str, render: Render, root: Path, argv: Sequence[str] | None) -> int:
    """`python -m <module> [--check]`: write every file, or (exit 1) name the stale ones."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--check"]:
        found = stale(render, root)
        for path in found:
            print(f"deploy/{path} is stale: run `python -m {module}`", file=sys.stderr)
        return 1 if found else 0
    if args:
        print(f"usage: python -m {module} [--check]", file=sys.stderr)
        return 2
    for path, text in render().items():
        (root / path).write_text(text, encoding="utf-8")
        print(f"wrote deploy/{path}")
    return 0
