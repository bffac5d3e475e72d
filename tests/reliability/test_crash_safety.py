"""Crash safety of training: SIGKILL at 20 seeded moments, and foreign weights files.

A training run is a forked child of this test process (the encoder and every embedding
are already loaded and cached, so one small run takes well under a second and 20 kills
fit in seconds, not minutes). The child trains the population + personal pair exactly as
`python -m pantry train --user U` does (`Lab.train`); its weights writes go through a
slowed file object (the real `write_bytes_atomic`: temp file, fsync, rename), so that kills
can land while a weights file is half written. After each kill the database must pass
`PRAGMA integrity_check`, hold every vote, and have an active population/personal pair that
belongs together (the personal version's prior is the active population version), both
loadable; a reopened store sweeps the half-written temp file.

Foreign weights files (random bytes, another embedder, another feature spec) must be
refused in one line, and the app must fall back to the previous version and say so
(truncated files and another feature width are covered by tests/reliability/test_model_faults.py).
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from pantry.base import is_temp_file_name
from pantry.errors import PantryError
from pantry.evaluation.synth import simulate_votes
from pantry.lab import Lab
from pantry.model.features import FEATURE_SPEC
from pantry.model.training import TrainConfig
from pantry.settings import Settings
from pantry.storage.jsonl import import_jsonl
from pantry.storage.store import Store
from tests.helpers import shared_embedder

USER = "crash-veg"
KILLS = 20
SEED = 20261203
CFG = dict(members=1, val_split=0.0)


def _settings(home: Path) -> Settings:
    return Settings(**{**Settings.from_env().__dict__, "home": home})


def _lab(home: Path) -> Lab:
    settings = _settings(home)
    store = Store(settings.db_path)
    e = copy.copy(shared_embedder())
    e.cache = store
    return Lab(settings, store, e)


@pytest.fixture(scope="module")
def base_home(tmp_path_factory):
    """Two profiles' votes, every embedding cached, an active population + personal pair."""
    home = tmp_path_factory.mktemp("crash") / "home"
    lab = _lab(home)
    lines = [json.dumps(v) for persona, user in (("vegetarian", USER), ("quick-weeknight", "bo"))
             for v in simulate_votes(persona, 16, seed=3, user=user)]
    import_jsonl(lab.store, lines)
    lab.train(USER, TrainConfig(**CFG), cv_folds=0)
    return home


@pytest.fixture
def home(base_home, tmp_path):
    dest = tmp_path / "home"
    shutil.copytree(base_home, dest)
    return dest


# ---------------------------------------------------------------------------- the child

class _SlowFile:
    """A file object whose write() goes out in 512-byte pieces, `pause` s apart, and tells
    the parent (one byte on `signal_fd`) when a weights write begins."""

    def __init__(self, f, pause: float, signal_fd: int):
        self._f, self._pause, self._fd = f, pause, signal_fd

    def write(self, data):
        os.write(self._fd, b"W")
        view = memoryview(data)
        for k in range(0, len(view), 512):
            self._f.write(view[k:k + 512])
            self._f.flush()
            time.sleep(self._pause)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _fork_training(home: Path, pause: float) -> tuple[int, int]:
    """(pid, read end of the child's signal pipe): a child that trains USER and exits 0."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        return pid, r
    code = 1
    try:  # the child: never return into pytest
        os.close(r)
        import torch

        import pantry.base as base
        torch.set_num_threads(1)
        real_fdopen = os.fdopen
        base.os = type("os_proxy", (), {"__getattr__": staticmethod(lambda n: getattr(os, n)),
                                        "fdopen": staticmethod(lambda fd, mode="r", *a, **k:
                                                               _SlowFile(real_fdopen(fd, mode, *a, **k), pause, w)
                                                               if "w" in mode else real_fdopen(fd, mode, *a, **k))})()
        lab = _lab(home)
        lab.train(USER, TrainConfig(**CFG), cv_folds=0)
        os.write(w, b"D")
        code = 0
    except BaseException:  # noqa: BLE001 - reported by the exit code
        import traceback
        traceback.print_exc()
    finally:
        os._exit(code)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"training child did not finish in {timeout} s")


def _read_signals(fd: int, until: float, want: int) -> int:
    """Block until `want` 'W' signals were read (or `until`); returns how many were read."""
    import select
    seen = 0
    while seen < want and time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        seen += chunk.count(b"W")
    return seen


# ---------------------------------------------------------------------------- the checks

def _state(home: Path) -> dict:
    """What must hold after any kill; returns the active pair and the vote count."""
    db = _settings(home).db_path
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        votes = conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    finally:
        conn.close()
    lab = _lab(home)
    pop, mine = lab.store.active_model(None), lab.store.active_model(USER)
    assert pop is not None and mine is not None, "a kill left a scope without an active model"
    assert mine.meta.get("prior_version") == pop.id, (
        f"half-activated pair: personal v{mine.id} was trained with population v{mine.meta.get('prior_version')}, "
        f"but population v{pop.id} is active")
    lab.load_version(pop)
    lab.load_version(mine)
    choice = lab.model_for(USER)
    assert choice.kind == "personal" and choice.version_id == mine.id and not choice.problems, choice.reason
    return {"pair": (pop.id, mine.id), "votes": votes}


def _temp_files(home: Path) -> list[str]:
    return [p.name for p in _settings(home).weights_dir.iterdir() if is_temp_file_name(p.name)]


def test_sigkill_at_20_seeded_moments_leaves_a_loadable_all_or_nothing_pair(home):
    before = _state(home)
    pause = 0.004
    # one run to completion: how long a training takes, and that the child works at all
    t0 = time.monotonic()
    pid, fd = _fork_training(home, pause)
    status = _wait(pid, 120)
    full = time.monotonic() - t0
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the unkilled training failed"
    after_full = _state(home)
    assert after_full["pair"] != before["pair"] and after_full["votes"] == before["votes"]

    rng = random.Random(SEED)
    seen_temps: set[str] = set()
    outcomes = {"killed": 0, "finished": 0, "mid_write": 0, "temp_left": 0}
    for k in range(KILLS):
        prev = _state(home)
        pid, fd = _fork_training(home, pause)
        start = time.monotonic()
        if k % 3 == 0:  # 7 of 20: during a weights write (the 1st or 2nd file), part way through
            which = 1 + (k // 3) % 2
            got = _read_signals(fd, start + 60, which)
            assert got == which, f"kill {k}: the child never began weights write {which}"
            time.sleep(rng.uniform(0.0, 0.8) * pause * 8)
        else:  # the rest at a random moment over the whole run
            time.sleep(rng.uniform(0.0, 0.7) * full)  # runs vary (a busy machine: more): most must still be cut short
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
        if os.WIFSIGNALED(status):
            outcomes["killed"] += 1
            temps = set(_temp_files(home)) - seen_temps
            seen_temps |= temps
            outcomes["temp_left"] += bool(temps)
            outcomes["mid_write"] += bool(temps) and k % 3 == 0
        else:
            assert os.WEXITSTATUS(status) == 0, f"kill {k}: training failed on its own"
            outcomes["finished"] += 1
        now = _state(home)  # integrity, votes, an all-or-nothing loadable pair
        assert now["votes"] == before["votes"]
        if os.WIFSIGNALED(status):
            assert now["pair"] in (prev["pair"],) or now["pair"][1] > prev["pair"][1], (k, prev, now)
        else:
            assert now["pair"] != prev["pair"]
        versions = _lab(home).store.model_versions(USER)
        assert not any(is_temp_file_name(Path(v.path).name) for v in versions), "a temp file was recorded"
    assert outcomes["killed"] >= 12, outcomes  # a run that ends first is checked too
    # half-written temp files are swept once stale (a young one may be a save in progress)
    left = _temp_files(home)
    assert set(left) == seen_temps and len(left) >= outcomes["mid_write"]
    old = time.time() - 2 * 3600
    for name in left:
        os.utime(_settings(home).weights_dir / name, (old, old))
    _lab(home)
    assert not _temp_files(home), "a reopened store sweeps stale half-written temp files"
    assert outcomes["mid_write"] >= 5, f"kills must land inside weights writes: {outcomes}"
    print(f"\ncrash safety: {KILLS} kills, full run {full:.2f} s, {outcomes}")


def test_sigkill_between_the_two_activations_is_all_or_nothing(home):
    """The population and the personal version are switched in one store transaction
    (`Lab.activate` -> `Store.activate_models`): a kill after the first scope's switch, before
    the commit, must not leave the new population model active beside the old personal one."""
    before = _state(home)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            lab = _lab(home)
            real = lab.store._models._activate

            def activate(conn, vid, user):  # inside the activation transaction
                real(conn, vid, user)
                os.write(w, b"A")
                time.sleep(5)

            lab.store._models._activate = activate
            lab.train(USER, TrainConfig(**CFG), cv_folds=0)
            code = 0
        except BaseException:  # noqa: BLE001
            pass
        finally:
            os._exit(code)
    os.close(w)
    import select
    ready, _, _ = select.select([r], [], [], 60)
    assert ready and os.read(r, 1) == b"A", "the child never activated a version"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(r)
    now = _state(home)  # was "half-activated pair: personal v2 ... population v3 is active"
    assert now["pair"] == before["pair"]


# ---------------------------------------------------------------------------- foreign weights

def _foreign(kind: str, lab: Lab, path: Path) -> None:
    from pantry.model.reward import RewardMember, RewardModel
    dim = lab.feature_dim
    if kind == "random bytes":
        path.write_bytes(random.Random(1).randbytes(path.stat().st_size))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "another embedder":
        RewardModel([RewardMember(dim)], "paraphrase-multilingual-MiniLM-L12-v2", FEATURE_SPEC, dim).save(path)
    elif kind == "another feature spec":
        RewardModel([RewardMember(dim)], lab.embedder_name, FEATURE_SPEC + "-other", dim).save(path)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind, words", [("random bytes", "foreign.pt"), ("empty", "foreign.pt"),
                                         ("another embedder", "embedder"), ("another feature spec", "feature spec")])
def test_a_foreign_weights_file_is_refused_in_one_line_and_the_previous_version_scores(home, kind, words):
    from pantry.evaluation.personas import fresh_recipes
    lab = _lab(home)
    old_pop, old_mine = lab.store.active_model(None), lab.store.active_model(USER)
    # a newer personal version whose file is foreign, activated behind the app's back
    target = Path(old_mine.path) if Path(old_mine.path).is_absolute() else _settings(home).home / old_mine.path
    foreign = target.with_name("foreign.pt")
    shutil.copyfile(target, foreign)
    _foreign(kind, lab, foreign)
    vid = lab.store.add_model_version(USER, str(foreign), lab.embedder_name, {"val_accuracy": 0.99}, {},
                                      activate=False)
    # activating it is refused in one line, and nothing changes
    with pytest.raises(PantryError) as err:
        lab.activate([vid])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("not activated:") and words in msg and f"v{vid}" in msg, msg
    assert lab.store.active_model(USER).id == old_mine.id
    # active anyway (another server, an old database): the app scores with the population model
    lab.store.activate_model(vid)
    fresh = _lab(home)
    choice = fresh.model_for(USER)
    assert choice.kind == "population" and choice.version_id == old_pop.id
    assert len(choice.problems) == 1 and "\n" not in str(choice.problems[0]), choice.problems
    assert str(choice.problems[0]).startswith(f"personal v{vid}:") and words in choice.problems[0].message
    assert f"personal v{vid}" in choice.reason and "0.99" not in choice.reason
    assert len(fresh.score(fresh_recipes(3, seed=1), USER)) == 3
