"""Canonical JSON: the one byte encoding of a message the chain hashes (docs/canonical-json.md).

Sorted keys, no whitespace, UTF-8, integers only, so any language can re-hash a row. Written
by orjson for speed, with `json` as the reference it must agree with; `is_plain` is the
test that lets a value take orjson's fast path (the fold's fast check uses it too).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class UncanonicalValue(ValueError):
    """A message holds a value canonical JSON does not define (a float, a non-string key)."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, integers only (money travels as decimal strings).

    Written by orjson, which gives the same bytes as
    `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` for every value
    the check lets through (`test_canonical_json` holds them against each other); what orjson
    refuses (an integer beyond 64 bits, text that is not UTF-8) goes through `json` itself.
    """
    if type(value) in (dict, list) and is_plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass  # a key that is not text, an integer beyond 64 bits, text that is not UTF-8
    _check_canonical(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _reference_json(value)


def _reference_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_canonical(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise UncanonicalValue("object keys must be strings")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            raise UncanonicalValue(f"non-integer number {item!r}: send decimals as strings")
        elif item is not None and not isinstance(item, str | int):
            raise UncanonicalValue(f"{type(item).__name__} is not a JSON value")


_LEAVES = frozenset({str, int, bool, type(None)})


def is_plain(value: dict[str, Any] | list[Any]) -> bool:
    """Whether `value` holds only JSON's exact built-in types and no float (what orjson reads
    from JSON text is built-in; a float is a number `json` may read otherwise, or refused)."""
    item: Any
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is dict or kind is list:
            if not is_plain(item):
                return False
        elif kind not in _LEAVES:
            return False
    return True
