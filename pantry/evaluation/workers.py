"""Parallel workers of `evaluate`: spawned processes that each receive one run's data once
(`_worker_init`), then fit folds' population models (`_fold_job`) and score batches of
test users (`_users_job`); the result equals the one-process run's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pantry.evaluation.fitting import _evaluate_user, _Run
from pantry.model.reward import RewardModel

# One evaluation's context inside a worker process (set by `_worker_init`, read by the job
# functions). A process-pool worker serves one `evaluate` call and is then shut down, so
# nothing here outlives it or is shared between callers.
_WORKER: dict[str, Any] = {}


def _worker_init(run: _Run) -> None:
    try:  # one BLAS thread per worker process: the workers already fill the cores
        from threadpoolctl import threadpool_limits
        _WORKER["limits"] = threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    _WORKER["run"] = run
    _WORKER["trainer"] = run.trainer()


def _fold_job(fold: int, rows: np.ndarray, want_popularity: bool) -> tuple[int, tuple, np.ndarray | None]:
    trainer = _WORKER["trainer"]
    return fold, trainer.population(rows), trainer.popularity(rows) if want_popularity else None


def _users_job(items: list[tuple[int, tuple]], population: RewardModel, s_population: np.ndarray,
               s_popularity: np.ndarray | None) -> list[tuple[int, dict, dict, int]]:
    run, trainer = _WORKER["run"], _WORKER["trainer"]
    return [(u, *_evaluate_user(run, trainer, u, split, population, s_population, s_popularity))
            for u, split in items]


def _pool(workers: int, run: _Run):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker (no inherited threads of an encoder or a server)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(run,))
