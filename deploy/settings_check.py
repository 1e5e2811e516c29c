"""Environment given to a service, checked against that service's settings class.

pydantic-settings ignores unknown variables (`extra="ignore"`), so a misspelt limit in a
ConfigMap would silently leave the code default in force. Here every `CRYPTOORCH_*` name must be
a setting of the service that receives it, and the values must parse as the service parses them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from unittest import mock

from pydantic import AliasChoices, ValidationError

from deploy.spec import PENDING_SETTINGS
from shared.settings import CommonSettings

PREFIX = "CRYPTOORCH_"


def service_module_exists(module: str) -> bool:
    """True when `python -m <module>` names one of our services (without importing it)."""
    parts = module.split(".")
    if len(parts) != 2 or parts[0] != "services" or not parts[1].isidentifier():
        return False
    spec = importlib.util.find_spec("services")
    locations = spec.submodule_search_locations if spec is not None else None
    return any((Path(folder) / parts[1] / "__main__.py").is_file() for folder in locations or [])


@cache
def settings_class(service: str) -> type[CommonSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, CommonSettings)
        and value.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise LookupError(f"services.{service}.settings defines {len(found)} settings classes")
    return found[0]


@cache
def accepted_env_names(settings: type[CommonSettings]) -> frozenset[str]:
    """Every environment variable name the class reads (upper case)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add((prefix + field_name).upper())
    return frozenset(names)


def check_service_env(where: str, service: str, env: Mapping[str, str]) -> list[str]:
    """Problems with the environment `env` given to `service` (names unknown, values invalid)."""
    try:
        settings = settings_class(service)
    except (ImportError, LookupError) as exc:
        return [f"{where}: cannot load the settings of services.{service}: {exc}"]
    known = accepted_env_names(settings)
    problems = [
        f"{where}: {name} is no setting of services.{service} (it would be ignored silently)"
        for name in sorted(env)
        if name.upper().startswith(PREFIX)
        and name.upper() not in known
        and name.upper() not in PENDING_SETTINGS
    ]
    relevant = {name: value for name, value in env.items() if name.upper() in known}
    with mock.patch.dict(os.environ, relevant, clear=True):
        try:
            settings()
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            problems.append(f"{where}: services.{service} rejects its settings: {details}")
    return problems
