"""A loopback stand-in for an Ollama server, for tests that drive the real `ollama` client.

It follows the Ollama REST API as the Ollama project documents it (docs.ollama.com/api):

- `POST /api/chat` and `POST /api/generate`: NDJSON streaming by default
  (`application/x-ndjson`, chunked), one chunk per fragment with `model`, `created_at`,
  `message{role, content}` (chat) or `response` (generate) and `done: false`; the final
  chunk has `done: true`, `done_reason` and the timing counters in nanoseconds.
  `"stream": false` gives one JSON object.
- `GET /api/tags` (`{"models": [{"name", "model", "modified_at", "size", "digest",
  "details": {...}}]}`), `GET /api/version` (`{"version": "0.x.y"}`), `GET /` ("Ollama is running").
- Errors are `{"error": "..."}` bodies: 400 for a bad request body, 404 for an unknown
  model (`model "x" not found, try pulling it first`), 500 for a server failure. An error
  after the stream has started is one more NDJSON line `{"error": "..."}` with the
  status already sent (200), exactly as Ollama does it.

The answer is a canned, realistic recipe as JSON text, chosen by the request's
`options.seed` among recipes that fit the diet the prompt asks for ("must be vegetarian"),
split across many small chunks. Tests steer failures per call:

    with FakeOllama() as server:             # or the `ollama_server` pytest fixture
        server.mode = "server_error"          # every following chat/generate call
        server.modes.extend(["invalid_json", "ok"])   # or one mode per call, first
        ...
        server.requests[-1]["body"]["format"]  # what the client sent

Modes: "ok", "invalid_json" (truncated JSON, done_reason "length"), "not_json" (prose),
"diet_violation" (bacon whatever was asked), "too_slow_recipe" (240 minutes),
"off_schema" (JSON that breaks the recipe schema it was sent: `minutes` 1e400, no steps),
"duplicate" (always the same recipe), "not_found" (404), "server_error" (500),
"bad_request" (400), "mid_stream_error" (some chunks, then an error line),
"hang" (no answer for `hang_seconds`, then a normal answer; bounded), "trickle"
(one chunk every `trickle_interval` seconds for a long answer). Servers that ignore
`num_predict`: "endless" (chunks of `chunk_chars` characters as fast as it can, forever),
"endless_line" (one NDJSON line that never ends), "empty_flood" (endless chunks with empty
content), "trickle_bytes" (one byte of a line every `trickle_interval` seconds, forever).
"Forever" ends when the client hangs up, on stop(), or after `endless_cap_bytes` (so a
failing test cannot eat the machine). `hang_discovery = True` makes `GET /api/version`
and `/api/tags` hang for `hang_seconds` too; `discovery_mode` = "huge_tags" /
"huge_version" makes that body endless, "trickle_tags" sends it a byte at a time. A refused connection
needs no mode: use `closed_port_url()`.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = (
    "ok", "invalid_json", "not_json", "diet_violation", "too_slow_recipe", "duplicate",
    "not_found", "server_error", "bad_request", "mid_stream_error", "hang", "trickle", "off_schema",
    "endless", "endless_line", "empty_flood", "trickle_bytes",
)
DISCOVERY_MODES = ("ok", "huge_tags", "huge_version", "trickle_tags")

# Canned answers. "diets" lists the diets each recipe honours.
RECIPES: list[dict[str, Any]] = [
    {
        "title": "Spinach and Feta Omelette",
        "ingredients": ["4 eggs", "2 handfuls baby spinach", "80 g feta, crumbled", "1 tbsp olive oil",
                        "salt and black pepper"],
        "steps": ["Beat the eggs with a pinch of salt and pepper.", "Wilt the spinach in the oil over medium heat.",
                  "Pour in the eggs and cook until almost set.", "Scatter the feta over, fold and serve."],
        "minutes": 12, "servings": 2, "cuisine": "Greek", "tags": ["quick", "breakfast"],
        "diets": ["vegetarian", "gluten-free", "nut-free"],
    },
    {
        "title": "Chickpea and Tomato Curry",
        "ingredients": ["1 can chickpeas, drained", "1 can chopped tomatoes", "1 onion, diced", "2 cloves garlic",
                        "1 tbsp curry powder", "1 tbsp vegetable oil", "100 ml coconut milk", "fresh coriander"],
        "steps": ["Soften the onion in the oil for 5 minutes.", "Add garlic and curry powder and cook for 1 minute.",
                  "Add tomatoes, chickpeas and coconut milk and simmer for 15 minutes.",
                  "Season and serve with coriander."],
        "minutes": 25, "servings": 2, "cuisine": "Indian", "tags": ["one-pot"],
        "diets": ["vegetarian", "vegan", "gluten-free", "dairy-free", "nut-free"],
    },
    {
        "title": "Lemon Garlic Chicken with Rice",
        "ingredients": ["2 chicken thighs", "150 g rice", "1 lemon", "3 cloves garlic", "1 tbsp butter",
                        "300 ml chicken stock", "parsley"],
        "steps": ["Brown the chicken in the butter on both sides.", "Add garlic, rice and stock; cover and simmer.",
                  "Cook for 20 minutes until the rice is tender.", "Finish with lemon juice and parsley."],
        "minutes": 35, "servings": 2, "cuisine": "Mediterranean", "tags": ["dinner"],
        "diets": ["gluten-free", "nut-free"],
    },
    {
        "title": "Mushroom Risotto",
        "ingredients": ["200 g arborio rice", "250 g mushrooms, sliced", "1 onion, finely chopped",
                        "750 ml vegetable stock", "40 g parmesan, grated", "2 tbsp butter", "100 ml white wine"],
        "steps": ["Fry the onion and mushrooms in half the butter.", "Stir in the rice and add the wine.",
                  "Add the hot stock a ladle at a time, stirring, for 18 minutes.",
                  "Beat in the rest of the butter and the parmesan."],
        "minutes": 35, "servings": 2, "cuisine": "Italian", "tags": ["comfort"],
        "diets": ["vegetarian", "gluten-free", "nut-free"],
    },
    {
        "title": "Black Bean Tacos with Lime Slaw",
        "ingredients": ["1 can black beans", "6 corn tortillas", "1/4 red cabbage, shredded", "2 limes",
                        "1 tsp ground cumin", "1 avocado", "1 tbsp olive oil"],
        "steps": ["Warm the beans with cumin and a splash of water, then mash lightly.",
                  "Toss the cabbage with lime juice, oil and salt.", "Warm the tortillas in a dry pan.",
                  "Fill with beans, slaw and sliced avocado."],
        "minutes": 20, "servings": 2, "cuisine": "Mexican", "tags": ["quick"],
        "diets": ["vegetarian", "vegan", "gluten-free", "dairy-free", "nut-free"],
    },
]

BACON_RECIPE: dict[str, Any] = {
    "title": "Spaghetti Carbonara",
    "ingredients": ["200 g spaghetti", "150 g bacon, diced", "2 eggs", "50 g parmesan, grated", "black pepper"],
    "steps": ["Cook the spaghetti in salted water.", "Fry the bacon until crisp.",
              "Beat eggs with the parmesan.", "Toss the hot pasta with bacon and the egg mixture off the heat."],
    "minutes": 20, "servings": 2, "cuisine": "Italian", "tags": ["pasta"],
}

SLOW_RECIPE: dict[str, Any] = {
    "title": "Slow-Braised Bean Stew",
    "ingredients": ["500 g dried white beans", "2 carrots", "2 onions", "1 can tomatoes", "4 cloves garlic"],
    "steps": ["Soak the beans overnight.", "Simmer everything gently for 4 hours."],
    "minutes": 240, "servings": 4, "cuisine": "French", "tags": ["slow"],
}

DEFAULT_TAG = {
    "name": "llama3.2:3b",
    "model": "llama3.2:3b",
    "modified_at": "2025-01-10T09:30:12.123456789Z",
    "size": 2019393189,
    "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
    "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
}


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normalise_model(name: str) -> str:
    return name if ":" in name else name + ":latest"


def _requested_diets(text: str) -> set[str]:
    return set(re.findall(r"must be (vegetarian|vegan|gluten-free|dairy-free|nut-free)", text.lower()))


def _request_text(path: str, body: dict) -> str:
    if path == "/api/chat":
        return "\n".join(str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict))
    return f"{body.get('system', '')}\n{body.get('prompt', '')}"


def pick_recipe(seed: int, text: str) -> dict[str, Any]:
    """The canned recipe a request gets: chosen by seed among those honouring the asked diets."""
    diets = _requested_diets(text)
    pool = [r for r in RECIPES if diets <= set(r["diets"])] or RECIPES
    recipe = dict(pool[seed % len(pool)])
    recipe.pop("diets", None)
    return recipe


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up (timeout, early close) is normal here
        super().handle_error(request, client_address)


class FakeOllama:
    """The server: start/stop it, or use it as a context manager. Attributes are the test's knobs."""

    def __init__(self, models: tuple[str, ...] = ("llama3.2:3b",), version: str = "0.5.1",
                 chunk_chars: int = 9, hang_seconds: float = 4.0, trickle_interval: float = 0.25):
        self.models = list(models)
        self.version = version
        self.chunk_chars = chunk_chars
        self.hang_seconds = hang_seconds  # bounded: the handler gives up on stop()
        self.trickle_interval = trickle_interval
        self.hang_discovery = False  # True: GET /api/version and /api/tags hang for hang_seconds
        self.discovery_mode = "ok"  # one of DISCOVERY_MODES
        self.endless_cap_bytes = 256 * 1024 * 1024  # what an "endless" answer sends at most
        self.sent_bytes = 0  # bytes of the last endless answer written (what the client took)
        self.mode = "ok"  # the mode of every call once `modes` is empty
        self.modes: deque[str] = deque()  # one mode per chat/generate call, used first
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "body", "mode"}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeOllama":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-ollama", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOllama":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests ---------------------------------------------------------
    def next_mode(self) -> str:
        with self._lock:
            mode = self.modes.popleft() if self.modes else self.mode
        if mode not in MODES:
            raise ValueError(f"unknown FakeOllama mode {mode!r}; known: {', '.join(MODES)}")
        return mode

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def generation_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] in ("/api/chat", "/api/generate")]

    def has_model(self, name: str) -> bool:
        return _normalise_model(name) in {_normalise_model(m) for m in self.models}

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the server is stopping (so handlers end fast)."""
        return self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama/1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    # -- plumbing ------------------------------------------------------------------
    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_line(self, obj: Any) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _write_raw(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
        self.fake.sent_bytes += len(data)

    def _endless(self, first: bytes, repeat: bytes, interval: float = 0.0) -> None:
        """Chunked data that never ends: `first`, then `repeat` again and again (bounded, see FakeOllama)."""
        self.fake.sent_bytes = 0
        try:
            self._write_raw(first)
            while self.fake.sent_bytes < self.fake.endless_cap_bytes:
                if self.fake.wait(interval) if interval else self.fake._stopping.is_set():
                    return
                self._write_raw(repeat)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return  # the client hung up: what a bounded client does
        self.close_connection = True

    def _endless_body(self, first: bytes, repeat: bytes, interval: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._endless(first, repeat, interval)

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routes --------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.fake.record({"method": "GET", "path": self.path, "body": None, "mode": None})
        if self.fake.hang_discovery and self.path.startswith("/api/"):
            if self.fake.wait(self.fake.hang_seconds):
                return
        if self.path == "/":
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/api/version" and self.fake.discovery_mode == "huge_version":
            self._endless_body(b'{"version": "0.5.1", "padding": "', b"x" * 65536)
        elif self.path == "/api/tags" and self.fake.discovery_mode == "huge_tags":
            self._endless_body(b'{"models": [', (json.dumps(DEFAULT_TAG) + ",").encode() * 64)
        elif self.path == "/api/tags" and self.fake.discovery_mode == "trickle_tags":
            self._endless_body(b'{"models": [', b" ", interval=self.fake.trickle_interval)
        elif self.path == "/api/version":
            self._send_json(200, {"version": self.fake.version})
        elif self.path == "/api/tags":
            models = []
            for i, name in enumerate(self.fake.models):
                tag = dict(DEFAULT_TAG, name=_normalise_model(name), model=_normalise_model(name))
                tag["digest"] = f"{i:02x}" + DEFAULT_TAG["digest"][2:]
                models.append(tag)
            self._send_json(200, {"models": models})
        else:
            self._send_error(404, "404 page not found")

    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path not in ("/api/chat", "/api/generate"):
            self.fake.record({"method": "POST", "path": self.path, "body": None, "mode": None})
            self._send_error(404, "404 page not found")
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError as e:
            self.fake.record({"method": "POST", "path": self.path, "body": raw.decode(errors="replace"),
                              "mode": "bad_request"})
            self._send_error(400, f"invalid character at offset {e.pos} looking for beginning of value")
            return
        if body is None:
            self.fake.record({"method": "POST", "path": self.path, "body": None, "mode": "bad_request"})
            self._send_error(400, "missing request body")
            return
        mode = self.fake.next_mode()
        self.fake.record({"method": "POST", "path": self.path, "body": body, "mode": mode})
        if not isinstance(body, dict) or not body.get("model"):
            self._send_error(400, "model is required")
            return
        model = str(body["model"])
        if mode == "bad_request":
            self._send_error(400, "invalid options: unknown option \"frobnicate\"")
            return
        if mode == "not_found" or not self.fake.has_model(model):
            self._send_error(404, f'model "{model}" not found, try pulling it first')
            return
        if mode == "server_error":
            self._send_error(500, "llama runner process has terminated: exit status 2")
            return
        if mode == "hang":
            if self.fake.wait(self.fake.hang_seconds):
                return
        try:
            self._answer(self.path, body, model, mode)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do

    # -- the answer ----------------------------------------------------------------
    def _content(self, path: str, body: dict, mode: str) -> tuple[str, str]:
        """(answer text, done_reason) for this request and mode."""
        options = body.get("options") or {}
        seed = options.get("seed", 0)
        seed = seed if isinstance(seed, int) else 0
        text = _request_text(path, body)
        if mode == "invalid_json":
            full = json.dumps(pick_recipe(seed, text))
            return full[: len(full) // 2], "length"
        if mode == "not_json":
            return "Sure! Here is a lovely recipe for you: pasta with tomato sauce.", "stop"
        if mode == "diet_violation":
            return json.dumps(BACON_RECIPE), "stop"
        if mode == "too_slow_recipe":
            return json.dumps(SLOW_RECIPE), "stop"
        if mode == "off_schema":  # what a model without structured output might write
            recipe = {k: v for k, v in pick_recipe(seed, text).items() if k != "steps"}
            return json.dumps({**recipe, "minutes": "MINUTES"}).replace('"MINUTES"', "1e400"), "stop"
        if mode == "duplicate":
            return json.dumps(pick_recipe(0, text)), "stop"
        if mode == "trickle":
            return json.dumps(pick_recipe(seed, text), indent=2) * 4, "stop"
        return json.dumps(pick_recipe(seed, text)), "stop"

    def _chunk(self, path: str, model: str, piece: str, done: bool) -> dict[str, Any]:
        chunk: dict[str, Any] = {"model": model, "created_at": _now()}
        if path == "/api/chat":
            chunk["message"] = {"role": "assistant", "content": piece}
        else:
            chunk["response"] = piece
        chunk["done"] = done
        return chunk

    def _final(self, path: str, model: str, content: str, done_reason: str, body: dict) -> dict[str, Any]:
        final = self._chunk(path, model, content, True)
        final.update({
            "done_reason": done_reason,
            "total_duration": 1_843_557_125,
            "load_duration": 21_441_375,
            "prompt_eval_count": max(1, len(_request_text(path, body)) // 4),
            "prompt_eval_duration": 120_871_000,
            "eval_count": max(1, len(content) // 4) if content else 0,
            "eval_duration": 1_694_306_000,
        })
        if path == "/api/generate":
            final["context"] = [128006, 882, 128007, 271]
        return final

    def _answer(self, path: str, body: dict, model: str, mode: str) -> None:
        content, done_reason = self._content(path, body, mode)
        if body.get("stream") is False:
            if mode == "mid_stream_error":
                self._send_error(500, "an error was encountered while running the model")
                return
            self._send_json(200, self._final(path, model, content, done_reason, body))
            return
        self._start_stream()
        size = max(1, self.fake.chunk_chars)
        if mode in ("endless", "empty_flood"):
            piece = "" if mode == "empty_flood" else ("{\"a\": " * size)[:size]
            line = (json.dumps(self._chunk(path, model, piece, False)) + "\n").encode()
            self._endless(line, line * max(1, 8192 // len(line)))
            return
        if mode == "endless_line":
            start = json.dumps(self._chunk(path, model, "", False))[:-40].encode()
            self._endless(start, b"x" * 65536)
            return
        if mode == "trickle_bytes":
            start = json.dumps(self._chunk(path, model, "", False))[:-40].encode()
            self._endless(start, b"x", interval=self.fake.trickle_interval)
            return
        pieces = [content[i:i + size] for i in range(0, len(content), size)]
        if mode == "mid_stream_error":
            for piece in pieces[:5]:
                self._write_line(self._chunk(path, model, piece, False))
            self._write_line({"error": "an error was encountered while running the model"})
            self._end_stream()
            return
        for piece in pieces:
            if mode == "trickle" and self.fake.wait(self.fake.trickle_interval):
                return
            self._write_line(self._chunk(path, model, piece, False))
        final = self._final(path, model, "", done_reason, body)
        final["eval_count"] = len(pieces)
        self._write_line(final)
        self._end_stream()


try:  # a fixture for test modules that import it (`from tests.ollama_server import ollama_server`)
    import pytest

    @pytest.fixture
    def ollama_server():
        with FakeOllama() as server:
            yield server
except ImportError:  # pragma: no cover - the server also works without pytest
    pass
