"""Request bodies read the way the project reads JSON (`pantry.domain.fields.loads_json`).

FastAPI parses a body with `json.loads`, which refuses an integer of more than 4,300 digits
outright, so such a body got a bare 400 "There was an error parsing the body". Read with
`loads_json`, a number too large to hold reaches the field types as out of range and gets the
422 naming its field that 1e400 already got. Every router uses `JsonRoute` (FastAPI's custom
request and route class pattern)."""

from __future__ import annotations

import json
from typing import Any, Callable

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute

from pantry.domain.fields import loads_json


class JsonRequest(Request):
    """A request whose `json()` is `loads_json`; JSON nested too deeply to read is a 400 that says so."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = loads_json(body)
            except RecursionError:
                raise HTTPException(400, "the body's JSON is nested too deeply to read") from None
            except UnicodeDecodeError as e:  # FastAPI words a JSONDecodeError as a 422 naming the offset
                raise json.JSONDecodeError("the body is not UTF-8 (or UTF-16 / UTF-32) text",
                                           body.decode("utf-8", "replace"), e.start) from None
        return self._json


class JsonRoute(APIRoute):
    """An APIRoute whose handler reads its body through `JsonRequest`."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def read_with_loads_json(request: Request):
            return await handler(JsonRequest(request.scope, request.receive))

        return read_with_loads_json
