"""Smoke tests of the performance benches (bench/compare_round.py, bench/scale.py): each runs
at a tiny size and prints its table with every figure measured (real runs, small inputs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.helpers import REPO


def _run(args: list[str], tmp_path, timeout: int = 600) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PANTRY_DEVICE": "cpu",
           "PANTRY_HOME": str(tmp_path / "unused"), "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _figure(out: str, name: str) -> float:
    """The value column of the row whose figure starts with `name`."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith(name):
            return float(re.match(r"[-\d.,e+]+", cells[1]).group(0).replace(",", ""))
    raise AssertionError(f"no row {name!r} in:\n{out}")


def test_compare_round_bench_runs_every_scenario(tmp_path):
    out = _run(["bench/compare_round.py", "--rounds", "1", "--votes", "60", "--think", "0.3"], tmp_path)
    for name in ("cold: first round", "(a) no model", "(b) personal model", "(c) two sessions at once"):
        assert _figure(out, name) > 0
    assert "bare encode of the round's candidates" in out  # the same-run baseline
    assert "60 votes" in out


def test_scale_bench_builds_ranks_and_reports(tmp_path):
    out = _run(["bench/scale.py", "--recipes", "300", "--votes", "300", "--users", "3", "--train-votes", "40"],
               tmp_path)
    assert _figure(out, "build: 300 recipes") > 0
    assert _figure(out, "database size on disk") > 0
    assert _figure(out, "rank 300 cached recipes") > 0
    assert _figure(out, "peak resident memory") > 50
