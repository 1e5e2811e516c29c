"""JSON request bodies, parsed once and strictly: a key given twice in one object is refused.

`{"amount": "1", "amount": "100"}` means the last value to Python's `json.loads` and
possibly the first to a proxy, a WAF or a log reader that checked the request: on a money
endpoint that is ambiguity an attacker can use, so it is `422 validation_error`. Every router
of the gateway is an `APIRouter(route_class=StrictJsonRoute)`; a test checks that no route
escapes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DuplicateKey(ValueError):
    """A JSON object names a key twice."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"the key {json.dumps(key)[:80]} appears twice in one object")
        result[key] = value
    return result


def loads_strictly(body: bytes) -> Any:
    """`json.loads` that refuses a duplicate key (`DuplicateKey`)."""
    return json.loads(body, object_pairs_hook=_unique_object)


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strictly(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is parsed by `loads_strictly`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
