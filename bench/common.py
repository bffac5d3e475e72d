"""Shared helpers of the bench scripts: finding the shipped data, timing, and the result table.

Every bench script prints one table with the same columns: what was measured, its value,
the target, the baseline measured in the same run, and the ratio value / baseline. Keep
this module standard-library only (plus numpy where a caller passes arrays) so that a bench
script's own import time is not inflated by it.

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script's folder is bench/
    from bench.common import Row, print_table, median_time, shared_data, machine
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def shared_data(*parts: str) -> Path | None:
    """A file under the shared data folder (`PANTRY_SHARED_DATA`, else `../shared/data` beside
    the checkout, else /work/shared/data), or None when it is not there."""
    roots = [os.environ.get("PANTRY_SHARED_DATA", ""), str(ROOT.parent / "shared" / "data"), "/work/shared/data"]
    for root in roots:
        if root and (Path(root).joinpath(*parts)).exists():
            return Path(root).joinpath(*parts)
    return None


def foodnetwork_recipes() -> Path | None:
    """The 1,594 Food Network recipes (docs/ARCHITECTURE.md), or None where the shared data is absent."""
    return shared_data("foodnetwork", "recipes.jsonl")


def skip(message: str) -> None:
    """Exit cleanly (status 0) saying why the benchmark did not run."""
    print(f"skipped: {message}")
    raise SystemExit(0)


def median_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall seconds of `fn()` over `repeat` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def machine() -> str:
    """One line: CPU count, platform, Python, and the GPU torch sees (only if torch is loaded)."""
    gpu = "no GPU"
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                gpu = torch.cuda.get_device_name(0)
        except Exception:  # pragma: no cover - a broken CUDA install
            gpu = "GPU unknown"
    return f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}, Python {platform.python_version()}, {gpu}"


@dataclass
class Row:
    """One line of a bench table. `value`/`baseline` in `unit`; `target` is text (e.g. "<= 2.0 s")
    or None; `ratio` defaults to value / baseline; `ok` to whether the target is met."""

    name: str
    value: float
    unit: str = "s"
    target: str | None = None
    baseline: float | None = None
    baseline_name: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline


def meets(value: float, limit: float) -> bool:
    return value <= limit


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (abs(x) >= 1000 or x == int(x)) and unit != "s":
        return f"{x:,.0f}{unit and ' ' + unit}"
    if abs(x) < 0.001 and x != 0:
        return f"{x:.2e}{unit and ' ' + unit}"
    return f"{x:.3f}{unit and ' ' + unit}"


def format_table(rows: Sequence[Row], title: str = "") -> str:
    """The table as text (markdown-style pipes, so it pastes into the README)."""
    head = ["figure", "value", "target", "baseline (same run)", "ratio", "ok"]
    body = []
    for r in rows:
        base = "-" if r.baseline is None else f"{_fmt(r.baseline, r.unit)}" + (f" ({r.baseline_name})" if r.baseline_name else "")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        body.append([r.name + (f" [{r.note}]" if r.note else ""), _fmt(r.value, r.unit), r.target or "-", base, ratio, ok])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines = []
    if title:
        lines.append(f"# {title}")
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(b, widths)) + " |")
    return "\n".join(lines)


def print_table(rows: Sequence[Row], title: str = "") -> None:
    print(format_table(rows, title))
    sys.stdout.flush()
