"""`deploy/compose.yaml` as the checks see it: services, their environment after compose's
`${VAR}` interpolation (with the values of `deploy/env.example`), commands and bind mounts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from deploy.documents import as_dict, as_list, load_yaml

COMPOSE_FILE = "compose.yaml"
ENV_EXAMPLE = "env.example"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of an env file (comments and blank lines skipped)."""
    variables: dict[str, str] = {}
    if not path.is_file():
        return variables
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text and not text.startswith("#") and "=" in text:
            key, _, value = text.partition("=")
            variables[key.strip()] = value.strip()
    return variables


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """The value compose would use, given `variables` (`${X:-default}`, `${X:?error}`, `${X}`)."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        given = variables.get(name, "")
        if operator in (":-", "-") and not given:
            return argument or ""
        return given

    return INTERPOLATION.sub(substitute, value).replace("$$", "$")


def required_variables(value: str) -> set[str]:
    """Names used as `${NAME:?...}` or `${NAME?...}` (compose refuses to start without them)."""
    return {
        match.group(1) for match in INTERPOLATION.finditer(value) if match.group(2) in (":?", "?")
    }


def host_port(url_or_address: str) -> tuple[str, int | None]:
    """(`host`, port) of `http://host:port/...` or `host:port`."""
    parts = urlsplit(url_or_address if "//" in url_or_address else f"//{url_or_address}")
    try:
        return parts.hostname or "", parts.port
    except ValueError:
        return parts.hostname or "", None


@dataclass
class Compose:
    root: Path
    document: dict[str, Any]
    variables: dict[str, str]

    @classmethod
    def load(cls, root: Path) -> Compose:
        return cls(root, as_dict(load_yaml(root / COMPOSE_FILE)), read_env_file(root / ENV_EXAMPLE))

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return {
            str(name): as_dict(body)
            for name, body in as_dict(self.document.get("services")).items()
        }

    def raw_env(self, service: str) -> dict[str, str]:
        """The environment as written (before interpolation)."""
        environment = self.services.get(service, {}).get("environment")
        if isinstance(environment, list):
            pairs = (str(item).partition("=") for item in environment)
            return {key: value for key, _, value in pairs}
        return {
            str(key): "" if value is None else str(value)
            for key, value in as_dict(environment).items()
        }

    def env(self, service: str) -> dict[str, str]:
        return {
            key: interpolate(value, self.variables) for key, value in self.raw_env(service).items()
        }

    def image(self, service: str) -> str:
        return interpolate(str(self.services.get(service, {}).get("image", "")), self.variables)

    def command(self, service: str) -> list[str]:
        command = self.services.get(service, {}).get("command")
        if isinstance(command, str):
            return command.split()
        return [str(part) for part in as_list(command)]

    def bind_mounts(self, service: str) -> list[tuple[Path, str]]:
        """(host path, container path) of every bind mount of a service."""
        mounts: list[tuple[Path, str]] = []
        for volume in as_list(self.services.get(service, {}).get("volumes")):
            if isinstance(volume, dict):
                source, target = str(volume.get("source", "")), str(volume.get("target", ""))
                if volume.get("type") != "bind":
                    continue
            else:
                source, _, rest = str(volume).partition(":")
                target = rest.split(":")[0]
                if not source.startswith((".", "/")):
                    continue  # a named volume
            mounts.append((self.root / source, target))
        return mounts

    def mounted_file(self, service: str, container_suffix: str) -> Path | None:
        for host, target in self.bind_mounts(service):
            if PurePosixPath(target).name == container_suffix or target.endswith(container_suffix):
                return host
        return None

    def depends_on(self, service: str) -> dict[str, str]:
        """Dependency -> condition (`service_started` for the short list form)."""
        depends = self.services.get(service, {}).get("depends_on")
        if isinstance(depends, list):
            return {str(name): "service_started" for name in depends}
        return {
            str(name): str(as_dict(spec).get("condition", "service_started"))
            for name, spec in as_dict(depends).items()
        }

    def services_with_image(self, prefix: str) -> list[str]:
        return [name for name in self.services if self.image(name).startswith(prefix)]
