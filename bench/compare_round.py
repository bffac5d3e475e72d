"""Benchmark: one Compare round, from the click on "Get two recipes" to the pair on screen.

What is timed is what the page really does: Streamlit's AppTest runs app.py (sidebar and the
Compare page, the same library calls a browser session makes), the "Get two recipes" button
is clicked and the run is timed until the new pair is in the page. Offline composer, 8
candidates, warm process (the first round of the process is reported apart as "cold").

Scenarios:
  (a) a profile with no trained model (heuristic);
  (b) a profile with a personal model trained over --votes stored votes (default 10,000);
  (c) two sessions at once (two AppTests, two profiles, one process, one store), both clicking
      at the same moment; each session's click-to-pair time is a sample.
Each round: the user reads the pair for --think s (default 2), votes, and clicks "Get two
recipes" right after the vote. The next round's candidates are generated and embedded in the
background while the pair is read (`pantry.compare.RoundPrefetch`); with no reading time
(vote and click at once, a worst case) they are not ready yet. Both are reported.

Baseline, same run, paired with each timed round: the bare `SentenceTransformer.encode` of
that round's candidate texts (the app's own encoder, no cache), the one step that cannot
cost next to nothing. AppTest is given one script cache, as a server has (see
`share_script_cache`). With --browser, the same rounds in real Chromium against
`streamlit run app.py` (as tests/browser/test_browser.py starts it), and the vote (a fragment rerun).

The stored votes of (b) refer to composer recipes whose embeddings are put in the cache as
random unit vectors (what is measured is the round, not training on real text).

    .venv/bin/python bench/compare_round.py [--rounds 10] [--votes 10000] [--think 2] [--browser]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["PANTRY_GENERATOR"] = "offline"
os.environ.setdefault("PANTRY_DEVICE", "cpu")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import Row, machine, print_table  # noqa: E402

PANTRY = "4 eggs, spinach, feta, rice, an onion, tomatoes, garlic, chickpeas"
N_CANDIDATES = 8


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ------------------------------------------------------------------------------ fixtures

def seed_store(home: Path, votes: int, seed: int = 0) -> None:
    """Profiles ana (with `votes` votes and, when votes > 0, a personal model) and bo."""
    from pantry.domain.votes import Vote
    from pantry.generators import GenerationRequest, OfflineComposer
    from pantry.model.embedding import text_hash
    from pantry.storage.store import Store

    store = Store(home / "pantry.sqlite3")
    for name in ("ana", "bo"):
        store.ensure_user(name)
        store.set_user_pantry(name, PANTRY)
        # the figures time a vote and the click for the next pair apart, as before the
        # "next pair right after my vote" setting (on by default) existed
        store.set_user_prefs(name, {**store.get_user_prefs(name), "auto_next": False})
    if votes <= 0:
        return
    composer = OfflineComposer()
    recipes, seen = [], set()
    for k in range(40):
        for r in composer.generate(GenerationRequest(pantry=("egg", "rice", "spinach", "onion", "tomato", "feta"),
                                                     n=12, seed=seed + k)):
            if r.id not in seen:
                seen.add(r.id)
                recipes.append(r)
    store.add_recipes(recipes)
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(len(recipes), 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    store.put_embeddings("all-MiniLM-L6-v2", {text_hash(r.text): v for r, v in zip(recipes, vecs)})
    taste = rng.normal(size=len(recipes))
    vs = []
    for k in range(votes):
        i, j = rng.choice(len(recipes), 2, replace=False)
        user = "ana" if k % 10 else "bo"
        outcome = "a" if taste[i] + rng.normal(scale=0.5) > taste[j] else "b"
        vs.append(Vote(user=user, a=recipes[i].id, b=recipes[j].id, outcome=outcome, left="a"))
    store.add_votes(vs)


def train(home: Path) -> float:
    from pantry.lab import Lab
    from pantry.settings import Settings

    os.environ["PANTRY_HOME"] = str(home)
    t = time.perf_counter()
    Lab(Settings.from_env()).train("ana", cv_folds=0)
    return time.perf_counter() - t


def share_script_cache() -> None:
    """A real server compiles each page script once (one ScriptCache per runtime); AppTest makes
    a new cache per run and so recompiles views/compare.py (~0.1 s) on every click. Give it one
    cache, as the server has, so that cost is not counted."""
    import streamlit.testing.v1.app_test as app_test
    import streamlit.testing.v1.local_script_runner as local_runner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    app_test.ScriptCache = local_runner.ScriptCache = lambda: shared


def open_session(user: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.query_params["profile"] = user
    at.run()
    at.slider(key="n_candidates").set_value(N_CANDIDATES)
    at.run()
    check(at)
    return at


def check(at) -> None:
    if at.exception or at.error:
        raise SystemExit(f"the page failed: {[e.message for e in at.exception]} {[e.value for e in at.error]}")


BARE: list[float] = []  # the bare encode of each timed round's candidates (the baseline)


def click_round(at) -> float:
    """Click "Get two recipes" and time the run until the new pair is in the session; then
    time the bare encode of that round's candidates (the baseline, paired with the round)."""
    before = at.session_state["matchup"] if "matchup" in at.session_state else None
    t = time.perf_counter()
    at.button(key="get_pair").click()
    at.run()
    dt = time.perf_counter() - t
    check(at)
    after = at.session_state["matchup"]
    assert after is not None and after is not before, "no new pair"
    if ENCODER:
        texts = [s.recipe.text for s in after.ranking]
        t = time.perf_counter()
        ENCODER[0].encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
        BARE.append(time.perf_counter() - t)
    return dt


ENCODER: list = []  # the SentenceTransformer of the app's own Lab, once loaded


def vote(at) -> None:
    # the round's own "left" button (keys carry the round: `views/compare.py`, `_vote`)
    next(b for b in at.button if (b.key or "").startswith("vote_left_r")).click()
    at.run()
    check(at)


def rounds(at, n: int, think: float) -> list[float]:
    """n rounds: read the pair for `think` s, vote, click for the next pair right away."""
    times = []
    for _ in range(n):
        if think:
            time.sleep(think)
        vote(at)
        times.append(click_round(at))
    return times


def two_at_once(a, b, n: int, think: float) -> list[float]:
    times: list[float] = []
    for _ in range(n):
        if think:
            time.sleep(think)
        vote(a)
        vote(b)
        start = threading.Barrier(2)
        out: dict[str, float] = {}

        def go(name, at):
            start.wait()
            out[name] = click_round(at)

        threads = [threading.Thread(target=go, args=(k, at)) for k, at in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times.extend(out.values())
    return times


def baseline(mark: int) -> float:
    """Median bare encode of the rounds timed since BARE had `mark` entries."""
    return median(BARE[mark:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10, help="warm rounds per scenario")
    ap.add_argument("--votes", type=int, default=10_000, help="stored votes behind the personal model of (b)")
    ap.add_argument("--think", type=float, default=2.0, help="seconds spent reading a pair before voting")
    ap.add_argument("--browser", action="store_true", help="also time rounds and votes in real Chromium")
    ap.add_argument("--browser-only", action="store_true", help="only the Chromium rounds (no AppTest scenarios)")
    args = ap.parse_args(argv)
    args.browser = args.browser or args.browser_only

    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    share_script_cache()
    tmp = Path(tempfile.mkdtemp(prefix="bench-round-"))
    plain, trained = tmp / "plain", tmp / "trained"
    seed_store(plain, 0)
    t = time.perf_counter()
    seed_store(trained, args.votes)
    build_s = time.perf_counter() - t
    train_s = train(trained)
    rows: list[Row] = []
    if not args.browser_only:
        apptest_scenarios(args, plain, trained, rows)
    if args.browser:
        browser_scenarios(args, plain, trained, rows)
    report(args, rows, build_s, train_s)
    return 0


def apptest_scenarios(args, plain, trained, rows) -> None:
    os.environ["PANTRY_HOME"] = str(plain)
    a = open_session("ana")
    cold = click_round(a)  # first round of the process: imports torch, loads the encoder
    from ui.resources import get_lab

    ENCODER.append(get_lab().embedder._model)
    base_name = "bare encode of the round's candidates"

    def scenario(name: str, target: float | None, fn) -> None:
        mark = len(BARE)
        value = median(fn())
        b = baseline(mark)
        rows.append(Row(name, value, target=None if target is None else f"<= {target} s", baseline=b,
                        baseline_name=base_name, ok=None if target is None else value <= target))

    mark = len(BARE)
    click_round(a)
    rows.append(Row("cold: first round of a fresh process (a)", cold, baseline=baseline(mark),
                    baseline_name="bare encode, warm"))
    scenario(f"(a) no model, {args.think:g} s reading the pair", 0.3, lambda: rounds(a, args.rounds, args.think))
    scenario("(a) no model, no reading time (worst case)", None, lambda: rounds(a, args.rounds, 0.0))

    os.environ["PANTRY_HOME"] = str(trained)
    b = open_session("ana")
    click_round(b)
    kind = b.session_state["matchup"].model_kind
    scenario(f"(b) {kind} model, {args.votes:,} votes, {args.think:g} s reading", 0.3,
             lambda: rounds(b, args.rounds, args.think))
    scenario(f"(b) {kind} model, {args.votes:,} votes, no reading time", None, lambda: rounds(b, args.rounds, 0.0))
    c = open_session("bo")
    click_round(c)
    scenario(f"(c) two sessions at once, {args.think:g} s reading", 0.6,
             lambda: two_at_once(b, c, args.rounds, args.think))
    scenario("(c) two sessions at once, no reading time", None, lambda: two_at_once(b, c, args.rounds, 0.0))


def report(args, rows, build_s, train_s) -> None:
    print_table(rows, f"Compare round: offline composer, {N_CANDIDATES} candidates, median of {args.rounds} rounds "
                      f"({machine()})")
    print(f"  store (b): {args.votes:,} votes built in {build_s:.1f} s, personal model trained in {train_s:.1f} s; "
          "the votes' recipes have random cached embeddings")


def browser_scenarios(args, plain, trained, rows) -> None:
    for label, home in (("(a)", plain), ("(b)", trained)):
        res = browser_rounds(home, "ana", args.rounds, args.think)
        rows.append(Row(f"Chromium {label}: click to pair, {args.think:g} s reading", median(res["round"]),
                        target="<= 0.3 s", ok=median(res["round"]) <= 0.3))
        rows.append(Row(f"Chromium {label}: click to pair, no reading time", median(res["round_now"])))
        rows.append(Row(f"Chromium {label}: vote key to scores shown", median(res["vote"])))


# ------------------------------------------------------------------------------ Chromium

def start_server(home: Path, log_path: Path, script: str = "app.py"):
    """`streamlit run app.py` as tests/browser/test_browser.py starts it; (process, url)."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PANTRY_HOME": str(home), "PANTRY_GENERATOR": "offline", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("streamlit did not start: " + log_path.read_text()[-2000:])
        time.sleep(0.3)


CHROMIUM = os.environ.get("PANTRY_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
IDLE = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }")
PAIR = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && document.body.innerText.includes('Which would you rather cook?'); }")


def idle(page) -> None:
    page.wait_for_timeout(100)
    page.wait_for_function(IDLE, polling="raf")


# Times are taken in the page: from the DOM event of the click (or key press) to the first
# animation frame where the run is over and the new pair (or the saved vote) is on screen, so
# Playwright's own work (locating, scrolling, actionability checks) is not counted.
WATCH = """() => { window._ev = null; window._done = null;
  for (const type of ['pointerdown', 'keydown']) {
    window.addEventListener(type, () => { if (window._ev === null) window._ev = performance.now(); }, true); } }"""
ARM = "() => { window._ev = null; }"
DONE_PAIR = PAIR.replace("() => {", "() => { if (window._ev === null) return false;", 1)
VOTED = ("() => { if (window._ev === null) return false; const app = document.querySelector('[data-testid=\"stApp\"]');"
         " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
         " && document.body.innerText.includes('Saved vote #'); }")


def _timed(page, act, done: str) -> float:
    page.evaluate(ARM)
    act()
    page.wait_for_function(done, polling="raf")
    return (page.evaluate("() => performance.now()") - page.evaluate("() => window._ev")) / 1000


def browser_rounds(home: Path, user: str, n: int, think: float, viewport=(1400, 1000)) -> dict[str, list[float]]:
    """Rounds in Chromium against a server on `home`, each: read the pair `think` s (every
    other round: not at all), press 1, click "Get two recipes" once the vote shows. Returns
    {"round": click-to-pair s after reading, "round_now": with no reading, "vote": key 1 to the
    saved vote}."""
    from playwright.sync_api import sync_playwright

    proc, url = start_server(home, home / "bench-streamlit.log")
    out: dict[str, list[float]] = {"round": [], "round_now": [], "vote": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/?profile={user}")
            page.get_by_role("heading", name="Compare recipes").wait_for()
            idle(page)
            page.evaluate(WATCH)
            slider = page.get_by_role("slider").first
            slider.focus()
            for _ in range(N_CANDIDATES - 6):
                page.keyboard.press("ArrowRight")
            idle(page)
            button = page.get_by_role("button", name="Get two recipes")
            _timed(page, button.click, DONE_PAIR)
            for k in range(2 * n):
                wait = think if k % 2 else 0.0
                if wait:
                    time.sleep(wait)
                out["vote"].append(_timed(page, lambda: page.locator("body").press("1"), VOTED))
                out["round" if wait else "round_now"].append(_timed(page, button.click, DONE_PAIR))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


if __name__ == "__main__":
    sys.exit(main())
