"""The generator choice an API server uses, re-made at most every GENERATOR_CHECK_S (auto mode
probes Ollama), and the last check's result for /health, which never waits for a probe."""

from __future__ import annotations

import threading
import time

from pantry.errors import PantryError
from pantry.generators import select_generator
from pantry.settings import Settings

GENERATOR_CHECK_S = 30.0  # how long a generator choice (an Ollama probe in auto mode) is reused
HEALTH_FIRST_CHECK_WAIT_S = 0.05  # /health waits at most this for a server's very first generator check


class GeneratorStatus:
    """The generator choice, re-made at most every GENERATOR_CHECK_S (auto mode probes Ollama).

    `get()` (generation requests) uses the cached choice while fresh, else checks in the
    calling thread, never under a lock another request waits on. `status()` (/health) never
    checks: it answers the last result and, when stale, starts one background check, so a
    hung Ollama cannot make /health slow (a load balancer's 2 s check stays well under)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()  # guards the fields below; never held while checking
        self._choice = None
        self._error: PantryError | None = None
        self._at = 0.0
        self._checking = False
        self._first = threading.Event()

    def _check(self):
        try:
            choice, error = select_generator(self.settings), None
        except PantryError as e:
            choice, error = None, e
        with self._lock:
            self._choice, self._error, self._at = choice, error, time.monotonic()
        self._first.set()
        return choice, error

    def _background(self) -> None:
        try:
            self._check()
        finally:
            with self._lock:
                self._checking = False

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._checking:
                return
            self._checking = True
        threading.Thread(target=self._background, name="pantry-generator-check", daemon=True).start()

    def _fresh(self) -> bool:
        return self._at > 0 and time.monotonic() - self._at <= GENERATOR_CHECK_S

    def get(self):
        with self._lock:
            fresh, choice, error = self._fresh(), self._choice, self._error
        if not fresh:
            choice, error = self._check()
        if error is not None:
            raise error
        return choice

    def status(self):
        """(choice, error message) from the last check, without waiting for a new one
        (except up to HEALTH_FIRST_CHECK_WAIT_S for a new server's very first check)."""
        with self._lock:
            stale = not self._fresh()
        if stale:
            self.refresh_in_background()
            self._first.wait(HEALTH_FIRST_CHECK_WAIT_S)
        with self._lock:
            if self._at == 0:
                return None, "the generator is being checked (first check since the server started)"
            return self._choice, None if self._error is None else str(self._error)


__all__ = ["GENERATOR_CHECK_S", "GeneratorStatus"]
