"""Checks of `deploy/Dockerfile` that need no Docker: base image, non-root user, what it copies."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = Path("Dockerfile")
DOCKERIGNORE = Path("Dockerfile.dockerignore")
BASE_IMAGE = "python:3.11-slim"
DEV_LOCK = "requirements-dev.lock"
INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        match = INSTRUCTION.match(line)
        if match and not line.lstrip().startswith("#"):
            found.append((match.group(1).upper(), match.group(2).strip()))
    return found


def check_dockerfile(root: Path, repository: Path) -> list[str]:
    """Problems of `root/Dockerfile`, whose build context is `repository`."""
    try:
        instructions = _instructions((root / DOCKERFILE).read_text(encoding="utf-8"))
        ignore = (root / DOCKERIGNORE).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return [f"{DOCKERFILE}: {exc}"]
    problems: list[str] = []
    bases = [args.split()[0] for name, args in instructions if name == "FROM"]
    if not bases or any(base != BASE_IMAGE for base in bases):
        problems.append(f"every stage must be FROM {BASE_IMAGE}, found {bases}")
    users = [args for name, args in instructions if name == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the final stage must switch to a non-root USER")
    if not any(name == "RUN" and "-r requirements.lock" in args for name, args in instructions):
        problems.append("dependencies must be installed from requirements.lock")
    if any(DEV_LOCK in args for name, args in instructions if name in ("RUN", "COPY")):
        problems.append(f"{DEV_LOCK} (tests, lint, benchmarks) must not reach the image")
    included = {line[1:].rstrip("/*") for line in ignore if line.startswith("!")}
    for name, args in instructions:
        if name != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            if not (repository / source).exists():
                problems.append(f"COPY {source}: not in the repository")
            elif source.rstrip("/") not in included:
                problems.append(f"COPY {source}: excluded by {DOCKERIGNORE}")
    return [f"{DOCKERFILE}: {problem}" for problem in problems]
