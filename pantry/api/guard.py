"""The ASGI middleware in front of every route (`Guard`): the bearer token is checked from the
headers before any byte of the body is read (401), and the body is counted as it arrives and
refused with 413 past `MAX_BODY_BYTES` (Content-Length or chunked); the rest is never read.
"""

from __future__ import annotations

import json
from typing import Any

from pantry.api.deps import access_for
from pantry.settings import Settings

MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body larger than this is refused (413) before parsing


class BodyTooLarge(Exception):
    pass


class Guard:
    """ASGI middleware in front of every route: the bearer token is checked from the headers
    before any of the body is read (401), and the body's bytes are counted as they arrive
    (Content-Length or chunked) and refused with 413 once past `cap`; the rest is never read.
    The request's `Access` goes into `scope["state"]["access"]`."""

    def __init__(self, app, settings: Settings, cap: int):
        self.app, self.settings, self.cap = app, settings, cap

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope.get("path") != "/health":
            access = access_for(self.settings, headers.get("authorization"))
            if access is None:
                return await send_json(send, 401, {"detail": "missing or wrong bearer token (Authorization: "
                                                             "Bearer <PANTRY_API_TOKEN or a profile token>)"},
                                       {"www-authenticate": "Bearer"})
            scope.setdefault("state", {})["access"] = access
        length = headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > self.cap:
            return await send_json(send, 413, {"detail": f"request body is {int(length)} bytes (limit {self.cap})"})
        received, too_large, started = 0, False, False

        async def counted():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    too_large = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large:  # the app's answer to a body it could not read: replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await send_json(send, 413, {"detail": f"request body passed {self.cap} bytes (limit {self.cap}); "
                                                  "the rest was not read"})


async def send_json(send, status: int, content: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(content).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    if status in (401, 413):
        raw.append((b"connection", b"close"))  # the unread rest of the body is not drained
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


__all__ = ["Guard", "MAX_BODY_BYTES", "send_json"]
