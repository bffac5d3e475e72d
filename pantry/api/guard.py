"""The ASGI middleware in front of every route (`Guard`): the bearer token is checked from the
headers before any byte of the body is read (401), and the body is counted as it arrives and
refused with 413 past `MAX_BODY_BYTES` (Content-Length or chunked); the rest is never read. A
body that stops arriving (a client that sends fewer bytes than its Content-Length) is answered
408 after `BODY_IDLE_S` without a byte, or `BODY_TOTAL_S` in all, instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pantry.api.deps import access_for
from pantry.settings import Settings

MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body larger than this is refused (413) before parsing
BODY_IDLE_S = 30.0  # longest wait for the next piece of a request body
BODY_TOTAL_S = 120.0  # longest time to receive a whole request body (8 MiB at ~70 kB/s)


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
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
        received, too_large, timed_out, started, body_done = 0, False, False, False, False
        deadline = time.monotonic() + BODY_TOTAL_S

        async def counted():
            nonlocal received, too_large, timed_out, body_done
            if body_done:  # the body is in: the app may wait for a disconnect as long as it likes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(BODY_IDLE_S, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                timed_out = True
                raise BodyTimeout() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.cap:
                    too_large = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large or timed_out:  # the app's answer to a body it could not read: replaced below
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not (too_large or timed_out):
                raise
        if started:
            return
        if too_large:
            await send_json(send, 413, {"detail": f"request body passed {self.cap} bytes (limit {self.cap}); "
                                                  "the rest was not read"})
        elif timed_out:
            await send_json(send, 408, {"detail": f"the request body stopped arriving ({received} bytes read; "
                                                  f"waited {BODY_IDLE_S:g} s for more, {BODY_TOTAL_S:g} s in all)"})


async def send_json(send, status: int, content: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(content).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    if status in (401, 408, 413):
        raw.append((b"connection", b"close"))  # the unread rest of the body is not drained
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


__all__ = ["Guard", "MAX_BODY_BYTES", "BODY_IDLE_S", "BODY_TOTAL_S", "send_json"]
