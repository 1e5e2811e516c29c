"""Is a message change additive? Other systems consume our topics, so a removed or retyped
field, or a new required one, needs a new version instead."""

from __future__ import annotations

from typing import Any


def _properties(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for part in path.split("."):
        node = node.get("properties", {}).get(part, {})
    props: dict[str, Any] = node.get("properties", {})
    return props


def _shape(field: dict[str, Any]) -> Any:
    """What a reader relies on: the JSON type(s) or referenced definition, not the docs."""
    if "anyOf" in field:
        return sorted(str(_shape(f)) for f in field["anyOf"])
    return field.get("$ref") or field.get("type") or field.get("const") or field.get("enum")


def breaking_changes(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Differences between a published message schema and the current one that break readers."""
    problems: list[str] = []
    for section in ("", "payload"):
        old = _properties(published, section) if section else published.get("properties", {})
        new = _properties(current, section) if section else current.get("properties", {})
        for name, field in old.items():
            where = f"{section}.{name}" if section else name
            if name not in new:
                problems.append(f"{where}: removed")
            elif name != "payload" and _shape(field) != _shape(new[name]):
                problems.append(
                    f"{where}: type changed from {_shape(field)} to {_shape(new[name])}"
                )
        old_required = set(_node(published, section).get("required", []))
        for name in set(_node(current, section).get("required", [])) - old_required:
            if name not in old:
                where = f"{section}.{name}" if section else name
                problems.append(f"{where}: new required field")
    old_defs, new_defs = published.get("$defs", {}), current.get("$defs", {})
    for name, definition in old_defs.items():
        for field in definition.get("properties", {}):
            if field not in new_defs.get(name, {}).get("properties", {}):
                problems.append(f"$defs.{name}.{field}: removed")
    return problems


def _node(schema: dict[str, Any], section: str) -> dict[str, Any]:
    if not section:
        return schema
    node: dict[str, Any] = schema.get("properties", {}).get(section, {})
    return node
