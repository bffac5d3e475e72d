"""Real LLM recipes through a local Ollama server, with structured (JSON Schema) output.

`OllamaGenerator` asks the model for one recipe per call (`/api/chat`, streamed, with
`format=recipe_json_schema()`, the JSON Schema of `pantry.domain.recipes.RecipeAnswer`),
checks each answer against that same model (`recipe_from_answer`), then that it respects the
diet and is not far over the time limit, retries a bad answer with another seed, and drops
near-duplicates. Every failure of the server or the network becomes a project exception
with a one-line message saying what to do (`GeneratorUnavailable` when Ollama cannot be
used at all, `GeneratorError` otherwise). `check_ollama` says, without generating,
whether Ollama is up and has the model.

The time limit (`timeout`, seconds) bounds every request: httpx's connect/read timeouts
catch a silent server, and a deadline checked after every piece of the stream that arrives
catches one that trickles forever (reads wait at most min(timeout, deadline), so an answer
ends within twice its deadline however the server paces its bytes). Sizes are bounded too, because a server may ignore `num_predict`: the chat
stream is read with httpx directly (the `ollama` client's line reader has no limit), and
an answer stops with a `GeneratorError` once its text passes `MAX_ANSWER_BYTES`, one NDJSON
line passes `MAX_LINE_BYTES` or the whole stream passes `MAX_STREAM_BYTES`; the
`/api/version` and `/api/tags` reads of `check_ollama` stop at `MAX_DISCOVERY_BYTES` or their
timeout. Memory for one answer is therefore a few of these caps at most.

Imports: httpx, ollama (its types and `ResponseError` only), `pantry.domain`, `pantry.kitchen`
(diet checks, near-duplicates), `pantry.settings`, `pantry.errors` and `pantry.generators.base`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable

import httpx
import ollama

from pantry.base import redact
from pantry.errors import GeneratorError, GeneratorUnavailable, InvalidRecipe
from pantry.domain.fields import loads_json
from pantry.domain.recipes import Recipe, recipe_from_answer, recipe_json_schema
from pantry.generators.base import GenerationRequest, ProgressFn
from pantry.settings import DEFAULT_OLLAMA_HOST, DEFAULT_OLLAMA_MODEL, ollama_base_url as base_url

DEFAULT_HOST = DEFAULT_OLLAMA_HOST
DEFAULT_MODEL = DEFAULT_OLLAMA_MODEL

# What each diet rules out, said to the model in plain words.
DIET_RULES = {
    "vegetarian": "no meat, poultry, fish or seafood (and no gelatine or meat stock)",
    "vegan": "no animal products at all: no meat, fish, eggs, dairy, butter, cheese or honey",
    "gluten-free": "no wheat, barley, rye, ordinary pasta, bread, flour, couscous or soy sauce with wheat",
    "dairy-free": "no milk, butter, cheese, cream or yogurt",
    "nut-free": "no nuts, peanuts or nut products (nut butters, nut milks, marzipan)",
}

SYSTEM_PROMPT = (
    "You are a careful home-cooking recipe writer. Answer with exactly one recipe as a single JSON "
    "object with the fields title, ingredients, steps, minutes, servings, cuisine and tags. "
    "ingredients: strings with quantities, e.g. \"200 g spaghetti\". steps: short imperative sentences "
    "in order. minutes: total time as a whole number. cuisine: one word or null. tags: a few short "
    "lowercase words. Follow every dietary rule strictly. No text outside the JSON."
)

# Candidate temperatures: varied, so that n candidates differ.
TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1)
PROGRESS_EVERY_S = 0.1  # throttle on_progress during a stream
# A recipe is a few hundred tokens; the cap stops a small model that loops on whitespace.
MAX_ANSWER_TOKENS = 1500
MAX_MESSAGE_CHARS = 300

MAX_ANSWER_BYTES = 64 * 1024
"""Cap on one answer's text (UTF-8 bytes). A recipe JSON is 1-3 KiB and `MAX_ANSWER_TOKENS`
tokens are at most ~10 KiB, so 64 KiB is only ever reached by a server that ignores
`num_predict` (or loops); the answer then stops with a `GeneratorError` naming the cap."""

MAX_LINE_BYTES = MAX_ANSWER_BYTES + 16 * 1024
"""Cap on one NDJSON line of the stream (the answer cap plus room for the JSON envelope):
a line that never ends must not grow without limit."""

MAX_STREAM_BYTES = 4 * 1024 * 1024
"""Cap on all bytes of one streamed answer, envelopes included. Ollama sends one ~120-byte
line per token, so `MAX_ANSWER_TOKENS` tokens are ~200 KiB; 4 MiB stops a server that sends
endless lines with empty or tiny content."""

MAX_ERROR_BYTES = 64 * 1024
"""Cap on the body of an error answer (HTTP 4xx/5xx) that is read for its message."""

MAX_DISCOVERY_BYTES = 4 * 1024 * 1024
"""Cap on the body of `GET /api/version` and `GET /api/tags` (a tags entry is ~400 bytes,
so 4 MiB is thousands of models)."""


def _one_line(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _seconds(t: float) -> str:
    return f"{t:g} s"


def normalise_model_name(name: str) -> str:
    """`llama3.2` and `llama3.2:latest` are the same model to Ollama."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def model_matches(wanted: str, available: Iterable[str]) -> bool:
    target = normalise_model_name(wanted)
    return any(normalise_model_name(m) == target for m in available if m)


def pull_command(model: str) -> str:
    return f"`ollama pull {model}`"


# ----------------------------------------------------------------------------------
# Discovery
# ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OllamaStatus:
    reachable: bool
    version: str | None
    models: tuple[str, ...]
    has_model: bool
    reason: str  # one plain-language line
    host: str = ""
    model: str = ""

    @property
    def usable(self) -> bool:
        return self.reachable and self.has_model


def check_ollama(host: str = DEFAULT_HOST, model: str = DEFAULT_MODEL, timeout: float = 2.0) -> OllamaStatus:
    """Is Ollama up at `host` and does it have `model`? Never raises; at most ~2 x timeout."""
    url = base_url(host)

    def status(reachable: bool, version: str | None, models: tuple[str, ...], has: bool, reason: str):
        return OllamaStatus(reachable, version, models, has, redact(reason, host), host=redact(url, host), model=model)

    try:
        with httpx.Client(base_url=url, timeout=timeout, follow_redirects=True) as http:
            code, body = _get_bounded(http, "/api/version", timeout)
    except _TooLarge:
        return status(False, None, (), False,
                      f"something answers at {url} but it is not Ollama "
                      f"(its /api/version answer is over {_size(MAX_DISCOVERY_BYTES)})")
    except httpx.ConnectError as e:
        why = "connection refused" if "refused" in str(e).lower() else _one_line(e, 120) or "cannot connect"
        return status(False, None, (), False, f"Ollama is not reachable at {url} ({why})")
    except (httpx.TimeoutException, _Deadline):
        return status(False, None, (), False,
                      f"Ollama is not reachable at {url} (no answer within {_seconds(timeout)})")
    except (httpx.HTTPError, OSError, ValueError) as e:
        return status(False, None, (), False, f"Ollama is not reachable at {url} ({_one_line(e, 120)})")
    version = None
    if code == 200:
        try:
            version = str(json.loads(body).get("version") or "") or None
        except (ValueError, AttributeError, RecursionError):
            version = None
    if version is None:
        return status(False, None, (), False,
                      f"something answers at {url} but it is not Ollama "
                      f"(HTTP {code} on /api/version)")

    try:
        with httpx.Client(base_url=url, timeout=timeout, follow_redirects=True) as http:
            code, body = _get_bounded(http, "/api/tags", timeout)
        if code != 200:
            raise ollama.ResponseError(body[:MAX_ERROR_BYTES].decode("utf-8", "replace"), code)
        listed = ollama.ListResponse(**json.loads(body))
        models = tuple(m.model for m in listed.models if getattr(m, "model", None))
    except _TooLarge:
        return status(True, version, (), False,
                      f"Ollama {version} at {url} could not list its models "
                      f"(the /api/tags answer is over {_size(MAX_DISCOVERY_BYTES)})")
    except (httpx.TimeoutException, _Deadline):
        return status(True, version, (), False,
                      f"Ollama {version} at {url} could not list its models "
                      f"(no complete answer within {_seconds(timeout)})")
    except Exception as e:  # any failure here: Ollama is up but the list is unknown
        return status(True, version, (), False,
                      f"Ollama {version} at {url} could not list its models ({_one_line(_describe(e), 160)})")
    if model_matches(model, models):
        return status(True, version, models, True, f"Ollama {version} at {url} has {model}")
    return status(True, version, models, False, f"model {model} is not pulled: run {pull_command(model)}")


def _get_bounded(http: httpx.Client, path: str, timeout: float) -> tuple[int, bytes]:
    """GET `path`: (status, body), the body read within `timeout` and `MAX_DISCOVERY_BYTES`."""
    deadline = time.monotonic() + timeout
    with http.stream("GET", path) as response:
        return response.status_code, _read_bounded(response, MAX_DISCOVERY_BYTES, deadline)


def _read_bounded(response: httpx.Response, limit: int, deadline: float) -> bytes:
    """The whole body, or `_TooLarge` past `limit` bytes, or `_Deadline` past `deadline`."""
    buffer = bytearray()
    for piece in response.iter_bytes():
        buffer += piece
        if len(buffer) > limit:
            raise _TooLarge(limit)
        if time.monotonic() > deadline:
            raise _Deadline()
    return bytes(buffer)


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} bytes"


def _describe(e: BaseException) -> str:
    if isinstance(e, ollama.ResponseError):
        return f"HTTP {e.status_code}: {e.error}" if e.status_code > 0 else str(e.error)
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


# ----------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------

class _BadAnswer(Exception):
    """One answer was unusable (bad JSON, diet, time); worth another try with another seed."""


def build_messages(request: GenerationRequest, avoid_titles: Iterable[str] = (),
                   problem: str | None = None) -> list[dict[str, str]]:
    """System + user message for one recipe that fits `request`."""
    lines = ["Write one recipe."]
    if request.pantry:
        lines.append("Use mainly these ingredients: " + ", ".join(request.pantry) + ".")
        lines.append("You may add a few common staples (salt, pepper, oil, water, spices) "
                     "and at most a few other ingredients.")
    for diet in request.diets:
        rule = DIET_RULES.get(diet)
        lines.append(f"The recipe must be {diet}" + (f": {rule}." if rule else "."))
    if request.cuisine:
        lines.append(f"Cuisine: {request.cuisine}.")
    if request.max_minutes:
        lines.append(f"Total time: at most {request.max_minutes} minutes, preparation included.")
    lines.append(f"Servings: {request.servings}.")
    avoid = [t for t in avoid_titles if t]
    if avoid:
        lines.append("Make it clearly different from these recipes: " + "; ".join(avoid) + ".")
    if problem:
        lines.append(f"A previous answer was rejected ({problem}); write a recipe that avoids this.")
    lines.append("Answer with the JSON object only.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def minutes_limit(max_minutes: int | None) -> int | None:
    """How far over the asked time a recipe may go before it is rejected ("over by a lot")."""
    if not max_minutes:
        return None
    return max_minutes + max(10, max_minutes // 2)


def _temperature(index: int, n: int) -> float:
    if n <= 1:
        return 0.8
    lo, hi = TEMPERATURES[0], TEMPERATURES[-1]
    return round(lo + (hi - lo) * (index % n) / (n - 1), 2)


class OllamaGenerator:
    """Recipes from a model served by Ollama. `name` is what the app records with each vote."""

    def __init__(self, host: str = DEFAULT_HOST, model: str = DEFAULT_MODEL, timeout: float = 60.0,
                 *, max_retries: int = 2, client: httpx.Client | None = None,
                 answer_deadline: float | None = None, max_answer_bytes: int = MAX_ANSWER_BYTES):
        """`timeout`: httpx's connect/read timeouts, and by default each answer's deadline too.

        `answer_deadline` (seconds, default `timeout`): wall time allowed for one answer from
        the request to the last chunk. `max_answer_bytes`: cap on one answer's text. `client`:
        an `httpx.Client` whose base URL is the Ollama server (default: one made here).
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if answer_deadline is not None and answer_deadline <= 0:
            raise ValueError("answer_deadline must be positive")
        if max_answer_bytes <= 0:
            raise ValueError("max_answer_bytes must be positive")
        self.host = base_url(host)
        self.shown_host = redact(self.host, host)  # for messages: never the password
        self.model = model
        self.timeout = float(timeout)
        self.answer_deadline = float(answer_deadline) if answer_deadline is not None else self.timeout
        self.max_answer_bytes = int(max_answer_bytes)
        self.max_retries = max(0, int(max_retries))
        self.name = f"ollama:{model}"
        self.source = f"ollama:{model}"
        self._client = client if client is not None else httpx.Client(
            base_url=self.host, timeout=self.timeout, follow_redirects=True,
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     "User-Agent": "pantrypilot"})
        self.calls = 0  # chat calls made by the last generate() that finished (for tests and logs)

    def __repr__(self) -> str:
        return f"OllamaGenerator(host={self.shown_host!r}, model={self.model!r}, timeout={self.timeout:g})"

    # -- public --------------------------------------------------------------------
    def generate(self, request: GenerationRequest, on_progress: ProgressFn | None = None) -> list[Recipe]:
        """`request.n` distinct recipes; at most 2n+2 model calls in all, retries included."""
        from pantry.kitchen.dedupe import near_duplicate  # light, but keep module import minimal

        n = max(0, int(request.n))
        if n == 0:
            return []
        calls = _Calls(budget=2 * n + 2)  # per call of generate(): safe when shared between threads
        recipes: list[Recipe] = []
        duplicates = 0
        candidate = 0
        while len(recipes) < n:
            if calls.made >= calls.budget:
                self.calls = calls.made
                raise GeneratorError(
                    f"Ollama ({self.model}) gave only {len(recipes)} distinct recipe(s) of {n} in "
                    f"{calls.made} calls ({duplicates} near-duplicate(s) dropped)")
            try:
                recipe = self._one_recipe(request, candidate, n, recipes, calls, on_progress)
            finally:
                self.calls = calls.made
            candidate += 1
            if any(near_duplicate(recipe, kept) for kept in recipes):
                duplicates += 1
                continue
            recipes.append(recipe)
            self._progress(on_progress, len(recipes), n, f"recipe {len(recipes)} of {n}: {recipe.title}")
        return recipes

    # -- one recipe, with retries --------------------------------------------------
    def _one_recipe(self, request: GenerationRequest, candidate: int, n: int, kept: list[Recipe],
                    calls: "_Calls", on_progress: ProgressFn | None) -> Recipe:
        temperature = _temperature(candidate, n)
        problem: str | None = None
        attempts = 0
        while attempts <= self.max_retries and calls.made < calls.budget:
            seed = (request.seed * 7919 + calls.made) % (2**31 - 1)
            messages = build_messages(request, [r.title for r in kept], problem)
            calls.made += 1
            attempts += 1
            content, done_reason = self._chat(messages, seed, temperature, len(kept), n, on_progress)
            try:
                return self._check(content, request, done_reason)
            except _BadAnswer as e:
                problem = str(e)
        tries = f"{attempts} tr{'y' if attempts == 1 else 'ies'}"
        raise GeneratorError(f"Ollama ({self.model}) gave no usable recipe after {tries}: {problem}")

    def _check(self, content: str, request: GenerationRequest, done_reason: str | None = None) -> Recipe:
        from pantry.kitchen import diet_violations

        text = content.strip()
        if not text:
            raise _BadAnswer("the answer was empty")
        try:
            obj = loads_json(text)
        except json.JSONDecodeError as e:
            cut = " (cut off at the length limit)" if done_reason == "length" else ""
            raise _BadAnswer(f"the answer was not valid JSON{cut} ({e.msg} at character {e.pos})") from None
        except (RecursionError, ValueError):
            raise _BadAnswer("the answer was not valid JSON (nested too deeply or a number too long)") from None
        try:
            recipe = recipe_from_answer(obj, source=self.source)
        except InvalidRecipe as e:
            raise _BadAnswer(f"the answer was not a valid recipe ({e})") from None
        if request.diets:
            problems = diet_violations(recipe, request.diets)
            if problems:
                raise _BadAnswer(f"'{recipe.title}' breaks the diet: {_one_line('; '.join(problems), 160)}")
        limit = minutes_limit(request.max_minutes)
        if limit is not None and recipe.minutes is not None and recipe.minutes > limit:
            raise _BadAnswer(f"'{recipe.title}' takes {recipe.minutes} minutes, "
                             f"over the {request.max_minutes}-minute limit")
        return recipe

    # -- one call ------------------------------------------------------------------
    def _chat(self, messages: list[dict[str, str]], seed: int, temperature: float, done: int, n: int,
              on_progress: ProgressFn | None) -> tuple[str, str | None]:
        """One streamed chat call: (answer text, done_reason), or a project exception.

        Reads `POST /api/chat` with httpx as NDJSON, with every size and the wall time
        bounded (see the module's caps); the `ollama` client's own reader is unbounded.
        """
        deadline = time.monotonic() + self.answer_deadline
        parts: list[str] = []
        chars = 0
        label = f"recipe {done + 1} of {n}"
        self._progress(on_progress, done, n, f"{label}: asking {self.model}")
        last_report = time.monotonic()
        done_reason: str | None = None
        body = {
            "model": self.model,
            "messages": messages,
            "format": recipe_json_schema(),
            "options": {"seed": seed, "temperature": temperature, "num_predict": MAX_ANSWER_TOKENS},
            "stream": True,
        }
        try:
            # A read may wait `timeout`, but never longer than the whole answer may take.
            timeout = httpx.Timeout(self.timeout, read=min(self.timeout, self.answer_deadline))
            with self._client.stream("POST", "/api/chat", json=body, timeout=timeout) as response:
                if response.status_code >= 400:
                    text = _read_some(response, MAX_ERROR_BYTES, deadline).decode("utf-8", "replace")
                    raise ollama.ResponseError(text or response.reason_phrase, response.status_code)
                answer_bytes = 0
                for part in _ndjson(response, deadline):
                    if isinstance(part, dict) and part.get("error"):
                        raise ollama.ResponseError(str(part["error"]))
                    message = part.get("message") if isinstance(part, dict) else None
                    piece = message.get("content") if isinstance(message, dict) else None
                    piece = piece if isinstance(piece, str) else ""
                    answer_bytes += len(piece.encode("utf-8", "replace"))
                    if answer_bytes > self.max_answer_bytes:
                        raise _TooLarge(self.max_answer_bytes)
                    parts.append(piece)
                    chars += len(piece)
                    finished = isinstance(part, dict) and part.get("done") is True
                    if finished:
                        reason = part.get("done_reason")
                        done_reason = reason if isinstance(reason, str) else None
                        break
                    now = time.monotonic()
                    if on_progress is not None and now - last_report >= PROGRESS_EVERY_S:
                        last_report = now
                        try:
                            on_progress(done, n, f"{label}: {chars} characters received")
                        except BaseException as callback_error:  # the caller's own problem: pass it on as is
                            raise _CallbackFailed(callback_error) from None
        except _Deadline:
            raise GeneratorError(self._timeout_message(self.answer_deadline)) from None
        except _TooLarge as e:
            raise GeneratorError(self._too_large_message(e)) from None
        except _CallbackFailed as wrapped:
            raise wrapped.error from None
        except GeneratorError:
            raise
        except Exception as e:  # mapped to a project exception with a one-line message
            raise self._map_error(e) from e
        self._progress(on_progress, done, n, f"{label}: {chars} characters received")
        return "".join(parts), done_reason

    def _too_large_message(self, e: "_TooLarge") -> str:
        what = {"answer": "answer", "line": "stream line", "stream": "stream"}[e.what]
        return (f"Ollama's {what} passed the {_size(e.limit)} cap (model {self.model} at {self.shown_host}): "
                f"the server may be ignoring num_predict; stopped reading")

    def _timeout_message(self, seconds: float | None = None) -> str:
        seconds = self.timeout if seconds is None else seconds
        return (f"Ollama did not answer within {_seconds(seconds)} (model {self.model} at {self.shown_host}): "
                f"it may be loading the model or overloaded; try again or raise PANTRY_OLLAMA_TIMEOUT")

    def _unreachable_message(self) -> str:
        return f"Ollama is not reachable at {self.shown_host}: start it with `ollama serve`"

    def _map_error(self, e: BaseException) -> GeneratorError:
        if isinstance(e, httpx.ConnectTimeout):
            return GeneratorUnavailable(
                f"Ollama is not reachable at {self.shown_host} (no connection within {_seconds(self.timeout)}): "
                f"start it with `ollama serve`")
        if isinstance(e, httpx.TimeoutException):
            return GeneratorError(self._timeout_message())
        if isinstance(e, (httpx.ConnectError, ConnectionRefusedError)) or (
                isinstance(e, ConnectionError) and not isinstance(e, (ConnectionResetError, BrokenPipeError))):
            return GeneratorUnavailable(self._unreachable_message())
        if isinstance(e, ollama.ResponseError):
            message = _one_line(e.error)
            low = message.lower()
            if e.status_code == 404 or ("not found" in low and "model" in low):
                return GeneratorUnavailable(
                    f"model {self.model} is not available at {self.shown_host} ({message}): run {pull_command(self.model)}")
            if e.status_code < 0:  # an {"error": ...} line in the middle of the stream
                return GeneratorError(f"Ollama failed while writing the recipe: {message}")
            return GeneratorError(f"Ollama error (HTTP {e.status_code}): {message}")
        if isinstance(e, (httpx.HTTPError, ConnectionError, json.JSONDecodeError)):
            return GeneratorError(f"Ollama's answer broke off ({_one_line(_describe(e), 160)})")
        return GeneratorError(f"Ollama request failed ({_one_line(_describe(e), 160)})")

    @staticmethod
    def _progress(on_progress: ProgressFn | None, done: int, total: int, message: str) -> None:
        if on_progress is not None:
            on_progress(done, total, message)


@dataclass
class _Calls:
    budget: int
    made: int = 0


class _Deadline(Exception):
    pass


class _TooLarge(Exception):
    """A body, line or answer passed its cap. `what`: "answer", "line" or "stream"."""

    def __init__(self, limit: int, what: str = "answer"):
        super().__init__(f"over {limit} bytes")
        self.limit = limit
        self.what = what


def _read_some(response: httpx.Response, limit: int, deadline: float) -> bytes:
    """At most `limit` bytes of the body (the rest is dropped), read before `deadline`."""
    buffer = bytearray()
    for piece in response.iter_bytes():
        buffer += piece
        if len(buffer) >= limit or time.monotonic() > deadline:
            break
    return bytes(buffer[:limit])


def _ndjson(response: httpx.Response, deadline: float,
            max_line: int | None = None, max_total: int | None = None) -> Iterable[Any]:
    """The JSON values of an NDJSON body, one per non-blank line, with every size bounded.

    `_Deadline` once `deadline` passes (checked whenever bytes arrive), `_TooLarge` once a
    line passes `max_line` or the body `max_total` bytes (defaults: the module caps).
    """
    max_line = MAX_LINE_BYTES if max_line is None else max_line
    max_total = MAX_STREAM_BYTES if max_total is None else max_total
    buffer = bytearray()
    total = 0
    for piece in response.iter_bytes():
        total += len(piece)
        if total > max_total:
            raise _TooLarge(max_total, "stream")
        buffer += piece
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(buffer[:end])
            del buffer[:end + 1]
            if len(line) > max_line:
                raise _TooLarge(max_line, "line")
            if line.strip():
                yield json.loads(line)
        if len(buffer) > max_line:
            raise _TooLarge(max_line, "line")
        if time.monotonic() > deadline:
            raise _Deadline()
    if buffer.strip():
        yield json.loads(bytes(buffer))


class _CallbackFailed(Exception):
    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error
