"""The two locks: the image's (`requirements.lock`) ships no test, lint or benchmark tool, and
the dev lock (`requirements-dev.lock`) pins every runtime package at the image's version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)", re.MULTILINE)
NAME = re.compile(r"^[A-Za-z0-9_.-]+")


def canonicalize_name(name: str) -> str:
    """PEP 503: `types_PyYAML` and `types-pyyaml` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def dev_only_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return {canonicalize_name(NAME.findall(r)[0]) for group in extras.values() for r in group}


def test_the_image_lock_holds_no_dev_or_bench_package() -> None:
    runtime = pins("requirements.lock")

    assert "pytest" in dev_only_requirements()
    assert sorted(dev_only_requirements() & runtime.keys()) == []


def test_the_dev_lock_pins_every_runtime_package_at_the_same_version() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")

    assert {name: dev.get(name) for name in runtime} == runtime
