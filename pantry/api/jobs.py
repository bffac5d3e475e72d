"""Background training jobs: one thread per job, a registry kept on the app instance.

`JobRegistry.submit(profile, work)` runs `work(on_progress)` in a daemon thread and returns
the job at once (state "queued", then "running", then "done" or "failed"). Progress comes
from the library's `ProgressFn` (done, total, message). Only one job per profile may be
queued or running at a time (`JobConflict`). Finished jobs are kept (the newest
`KEEP_FINISHED`) so that clients can read their result.
"""

from __future__ import annotations

import secrets
import threading
import time
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from pantry.base import ProgressFn
from pantry.errors import PantryError

STATES = ("queued", "running", "done", "failed")
KEEP_FINISHED = 200


class JobConflict(PantryError):
    """A training job for this profile is already queued or running."""

    def __init__(self, message: str, job_id: str):
        super().__init__(message)
        self.job_id = job_id


@dataclass
class Job:
    id: str
    profile: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def submit(self, profile: str, work: Callable[[ProgressFn], dict[str, Any]]) -> Job:
        with self._lock:
            for job in self._jobs.values():
                if job.profile == profile and job.active:
                    raise JobConflict(f"a training job for {profile} is already {job.state} ({job.id})", job.id)
            job = Job(id=secrets.token_hex(8), profile=profile)
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), name=f"train-{profile}", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if not j.active), key=lambda j: j.created_at)
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]

    def _run(self, job: Job, work: Callable[[ProgressFn], dict[str, Any]]) -> None:
        def progress(done: int, total: int, message: str) -> None:
            job.done, job.total, job.message = int(done), int(total), str(message)

        job.state, job.started_at = "running", time.time()
        try:
            result = work(progress)
        except PantryError as e:
            job.error, job.state = str(e), "failed"
        except Exception as e:  # a bug: keep the server up, say what happened
            job.error = f"{type(e).__name__}: {e}"
            job.state = "failed"
            logging.getLogger(__name__).exception("training job %s for %s failed", job.id, job.profile)
        else:
            job.result, job.state = result, "done"
            if job.total:
                job.done = job.total
        finally:
            job.finished_at = time.time()

    def wait(self, job_id: str, timeout: float = 60.0) -> Job | None:
        """For tests and scripts: poll until the job has finished (or `timeout`)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            job = self.get(job_id)
            if job is None or not job.active:
                return job
            time.sleep(0.05)
        return self.get(job_id)
