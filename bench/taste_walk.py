"""A person's walk through the app in real Chromium, turned into a repeatable check.

Starts `streamlit run app.py` on a free loopback port with a fresh PANTRY_HOME and the offline
composer, then, as a person would: creates a profile, types a pantry, and votes N times with
one consistent taste (the vegetarian recipe when exactly one of the two is, else the quicker
one), judged from the recipe on each card (its title, matched to the recipe the app logged as
shown, read through the library's kitchen knowledge); opens Retrain, trains and activates,
goes back to Compare and to Scores & diagnostics. It then checks that the activated model
follows the taste on a fixed probe set of fresh composer recipes (same PANTRY_HOME, through
`pantry.lab.Lab`): the share of (vegetarian, meat) pairs ranked vegetarian first, the share of
same-kind pairs ranked quicker first, and the Spearman of score vs -minutes, each against the
heuristic (the app's ranking before training) and a random ranking measured in the same run.

Along the way it reloads, opens a second browser context at 390x844, and pastes absurd input
(10,000 characters, emoji, HTML) into the pantry box and the new-profile name. Screenshots go
to test-artifacts/walk-*.png (look at them). Prints one table (bench/common.py format).

    PYTHONPATH=$PWD .venv/bin/python bench/taste_walk.py [--votes 25] [--probe-seeds 30] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script's folder is bench/
from bench.common import ROOT, Row, print_table, skip  # noqa: E402

CHROMIUM = os.environ.get("PANTRY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PANTRY_TEST_ARTIFACTS") or ROOT / "test-artifacts")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
USER = "walker"
# Meat and vegetables both, so that many pairs have exactly one vegetarian recipe.
PANTRY = ("chicken thighs, bacon, minced beef, 6 eggs, spinach, rice, pasta, an onion, tomatoes, feta, "
          "potatoes, garlic, chickpeas, mushrooms")
LONG = "egg, " * 2000  # 10,000 characters
ODD_PANTRY = "🥚🥚 eggs, <script>alert('x')</script>, <b>bold</b> spinach, 🍅 tomatoes, **rice**, :red[onion]"
ODD_NAME = "<img src=x onerror=alert(1)>🍳 " + "x" * 10_000


@contextmanager
def server(home: Path, log_path: Path):
    """`streamlit run app.py` with PANTRY_HOME=`home` (the benches' one starter,
    `bench.compare_round.start_server`); yields its URL and stops it afterwards."""
    from bench.compare_round import start_server

    proc, url = start_server(home, log_path)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def shot(page, name: str) -> None:
    """test-artifacts/walk-NAME.png of the whole page: Streamlit scrolls inside its own main
    container, so the window is made as tall as that content for the picture, then restored."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(1, 1)  # no tooltip left over from the last click
    size = page.viewport_size
    tall = page.evaluate("() => Math.max(document.body.scrollHeight, ...[...document.querySelectorAll("
                         "'[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(tall), 5000))})
    page.wait_for_timeout(500)  # let charts finish drawing at the new size
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)
    page.set_viewport_size(size)


def idle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(150)
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }", timeout=120_000)
    # each round's vote buttons are new elements (their own keys): their keyboard shortcuts are
    # registered once they are mounted, a moment after the run ends (no person presses that fast)
    page.wait_for_timeout(250)


def exceptions(page) -> list[str]:
    errors = page.locator('[data-testid="stException"]')
    return [errors.nth(i).inner_text()[:300] for i in range(errors.count())]


# --- the taste ---------------------------------------------------------------------------

def is_veg(recipe) -> bool:
    from pantry.kitchen import diet_violations

    return not diet_violations(recipe, ["vegetarian"])


def prefers(a, b) -> str:
    """The walker's taste: "left" or "right" (a is left). Vegetarian when exactly one is, else quicker."""
    va, vb = is_veg(a), is_veg(b)
    if va != vb:
        return "left" if va else "right"
    return "left" if (a.minutes or 10**6) <= (b.minutes or 10**6) else "right"


def pantry_box(page):
    """The pantry text box, opening its expander ("Your pantry: ...") when a round has folded it."""
    box = page.get_by_role("textbox", name="What's in your pantry?")
    if not box.is_visible():
        page.locator('[data-testid="stExpander"] summary', has_text="Your pantry").first.click()
        box.wait_for(state="visible")
    return box


def card_titles(page) -> tuple[str, str]:
    """The titles on the left and right cards (the card containers' keys are card_left/card_right)."""
    out = []
    for side in ("left", "right"):
        out.append(page.locator(f".st-key-card_{side} h3").first.inner_text().strip())
    return out[0], out[1]


def shown_recipe(store, title: str):
    """The recipe the app logged as shown to the walker under `title` (latest first)."""
    for recipe in store.recent_generated(USER, limit=200):
        if recipe.title.strip() == title:
            return recipe
    raise LookupError(f"no logged recipe titled {title!r}")


# --- the ranking check -------------------------------------------------------------------

def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def ranking_figures(scores, recipes) -> dict[str, float]:
    """Veg-first share over (veg, meat) pairs, quicker-first share over same-kind pairs with
    different minutes, and Spearman(score, -minutes) within each kind (mean of the two)."""
    veg = [is_veg(r) for r in recipes]
    mins = [r.minutes or 0 for r in recipes]
    vf = vn = qf = qn = 0
    for i in range(len(recipes)):
        for j in range(i + 1, len(recipes)):
            if veg[i] != veg[j]:
                v, m = (i, j) if veg[i] else (j, i)
                vn += 1
                vf += scores[v] > scores[m]
            elif mins[i] != mins[j]:
                q, s = (i, j) if mins[i] < mins[j] else (j, i)
                qn += 1
                qf += scores[q] > scores[s]
    rhos = []
    for kind in (True, False):
        idx = [k for k in range(len(recipes)) if veg[k] == kind]
        if len(idx) >= 3:
            rhos.append(spearman([scores[k] for k in idx], [-mins[k] for k in idx]))
    return {"veg_first": vf / max(vn, 1), "quick_first": qf / max(qn, 1),
            "rho": sum(rhos) / len(rhos) if rhos else float("nan"), "pairs_vm": vn, "pairs_q": qn}


def probe_recipes(seeds: int):
    """Fresh composer recipes for the walker's pantry (seeds never used by the app's rounds)."""
    from pantry.generators.base import GenerationRequest
    from pantry.generators.composer import OfflineComposer
    from pantry.kitchen import read_pantry

    reading = read_pantry(PANTRY)
    composer = OfflineComposer()
    seen, out = set(), []
    for seed in range(10_000, 10_000 + seeds):
        for r in composer.generate(GenerationRequest(pantry=reading.pantry, n=4, seed=seed, amounts=reading.amounts)):
            if r.id not in seen:
                seen.add(r.id)
                out.append(r)
    return out, reading


# --- the walk ----------------------------------------------------------------------------

def walk(url: str, home: Path, votes: int, sync_api, notes: list[str]) -> dict:
    from pantry.storage.store import Store

    expect = sync_api.expect
    expect.set_options(timeout=90_000)
    store = Store(home / "pantry.sqlite3")
    timings: dict[str, float] = {}
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.set_default_timeout(90_000)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        console: list[str] = []
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            t0 = time.perf_counter()
            page.goto(url)
            expect(page.get_by_text("Welcome to PantryPilot")).to_be_visible()
            idle(page)
            timings["first page"] = time.perf_counter() - t0
            shot(page, "01-welcome")

            # absurd profile names first: 10,000 characters with HTML and emoji
            name_box = page.get_by_role("textbox", name="New profile name")
            name_box.fill(ODD_NAME)
            typed = name_box.input_value()
            notes.append(f"new-profile box kept {len(typed)} of {len(ODD_NAME)} pasted characters")
            page.get_by_role("button", name="Start").click()
            idle(page)
            shot(page, "02-odd-profile-name")
            notes.append("odd profile name -> " + ("; ".join(t[:160] for t in page.locator(
                '[data-testid="stMain"] [data-testid="stAlert"]').all_inner_texts()) or "no message") + f"; users now {store.list_users()}")
            if page.get_by_role("heading", name="Compare recipes").count():
                page.goto(url)  # it was accepted: back to the welcome page
                expect(page.get_by_text("Welcome to PantryPilot")).to_be_visible()
                idle(page)

            page.get_by_role("textbox", name="New profile name").fill(USER)
            page.get_by_role("button", name="Start").click()
            expect(page.get_by_role("heading", name="Compare recipes")).to_be_visible()
            idle(page)

            # absurd pantry: 10,000 characters, then emoji and HTML
            box = page.get_by_role("textbox", name="What's in your pantry?")
            box.fill(LONG)
            page.get_by_role("button", name=re.compile("Get two recipes")).click()
            idle(page)
            shot(page, "03-pantry-10000-chars")
            notes.append("10,000-char pantry -> saved pantry is " + repr(store.get_user_pantry(USER)[:40]))
            box = pantry_box(page)
            box.fill(ODD_PANTRY)
            page.get_by_role("button", name=re.compile("Get two recipes")).click()
            idle(page)
            shot(page, "04-pantry-emoji-html")
            main = page.locator('[data-testid="stMain"]')
            if main.locator("b", has_text="bold").count() or main.locator("script").filter(has_text="alert").count():
                notes.append("DEFECT: HTML from the pantry box was rendered as markup")

            # the real pantry, and the votes
            box = pantry_box(page)
            box.fill(PANTRY)
            t0 = time.perf_counter()
            page.get_by_role("button", name=re.compile("Get two recipes")).click()
            expect(page.get_by_text("Which would you rather cook?")).to_be_visible()
            idle(page)
            timings["first pair"] = time.perf_counter() - t0
            shot(page, "05-first-pair")
            kinds = {"veg-vs-meat": 0, "same-kind": 0}
            t0 = time.perf_counter()
            last = None
            for n in range(1, votes + 1):
                titles = card_titles(page)
                for _ in range(50):  # the next pair comes right after a vote; wait until it is on screen
                    if titles != last:
                        break
                    page.wait_for_timeout(100)
                    titles = card_titles(page)
                a, b = shown_recipe(store, titles[0]), shown_recipe(store, titles[1])
                kinds["veg-vs-meat" if is_veg(a) != is_veg(b) else "same-kind"] += 1
                side = prefers(a, b)
                page.locator("body").press("1" if side == "left" else "2")
                expect(page.get_by_text(re.compile(rf"Saved vote #{n}\b"))).to_be_visible()
                last = titles
                idle(page)
                if n == 3:
                    shot(page, "06-after-vote-3")
            timings[f"{votes} votes"] = time.perf_counter() - t0
            notes.append(f"pairs voted: {kinds}")
            stored = store.votes(USER)
            assert len(stored) == votes, f"{len(stored)} votes stored, {votes} cast"

            # reload keeps the profile and the count
            page.reload()
            expect(page.get_by_role("heading", name="Compare recipes")).to_be_visible()
            expect(page.get_by_text(re.compile(rf"\b{votes} votes by {USER}"))).to_be_visible()
            idle(page)
            shot(page, "07-after-reload")

            # Retrain -> Activate
            page.get_by_role("link", name="Retrain").click()
            expect(page.get_by_role("heading", name="Retrain")).to_be_visible()
            idle(page)
            shot(page, "08-retrain-before")
            t0 = time.perf_counter()
            page.get_by_role("button", name="Retrain", exact=True).click()
            expect(page.get_by_text(re.compile(r"New v\d+ vs the current model"))).to_be_visible(timeout=180_000)
            idle(page)
            timings["retrain (UI)"] = time.perf_counter() - t0
            shot(page, "09-retrain-result")
            page.get_by_role("button", name=re.compile(r"^Activate v\d+")).click()
            expect(page.get_by_text(re.compile(r"Activated .*v\d+"))).to_be_visible()
            idle(page)
            shot(page, "10-activated")
            active = store.active_model(USER)
            assert active is not None, "no personal model active after Activate"

            # back to Compare: the personal model is in use
            page.get_by_role("link", name="Compare").click()
            expect(page.get_by_role("heading", name="Compare recipes")).to_be_visible()
            idle(page)
            page.get_by_role("button", name=re.compile("Get two recipes")).click()
            expect(page.get_by_text("Which would you rather cook?")).to_be_visible()
            idle(page)
            shot(page, "11-compare-after-training")

            page.get_by_role("link", name="Scores & diagnostics").click()
            expect(page.get_by_role("heading", name="Scores & diagnostics")).to_be_visible()
            idle(page)
            page.wait_for_timeout(800)
            shot(page, "12-scores")

            # a second browser context on a phone
            phone_ctx = browser.new_context(viewport={"width": 390, "height": 844})
            phone = phone_ctx.new_page()
            phone.set_default_timeout(90_000)
            phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            phone.goto(f"{url}/?profile={USER}")
            expect(phone.get_by_role("heading", name="Compare recipes")).to_be_visible()
            idle(phone)
            phone.get_by_role("button", name=re.compile("Get two recipes")).click()
            expect(phone.get_by_text("Which would you rather cook?")).to_be_visible()
            idle(phone)
            shot(phone, "13-phone-pair")
            pantry_box(phone).fill(ODD_PANTRY)
            phone.get_by_role("button", name=re.compile("Get two recipes")).click()
            idle(phone)
            shot(phone, "14-phone-odd-pantry")
            phone.goto(f"{url}/scores?profile={USER}")
            expect(phone.get_by_role("heading", name="Scores & diagnostics")).to_be_visible()
            idle(phone)
            phone.wait_for_timeout(800)
            shot(phone, "15-phone-scores")
            phone.goto(f"{url}/training?profile={USER}")
            expect(phone.get_by_role("heading", name="Retrain")).to_be_visible()
            idle(phone)
            shot(phone, "16-phone-retrain")
            errs = exceptions(page) + exceptions(phone)
            phone_ctx.close()
        except BaseException:
            shot(page, "failure")
            raise
        finally:
            ctx.close()
            browser.close()
    return {"timings": timings, "dialogs": dialogs, "exceptions": errs,
            "console": console, "active": active}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--votes", type=int, default=25, help="votes the walker casts (at least 8: Retrain needs them)")
    ap.add_argument("--probe-seeds", type=int, default=30, help="composer requests (4 recipes each) in the probe set")
    ap.add_argument("--smoke", action="store_true",
                    help="exit status checks only that the walk ran clean (no exceptions, tracebacks or dialogs), "
                         "not the taste targets (a few votes teach too little to hold them every run)")
    args = ap.parse_args()
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        skip(f"no Chromium at {CHROMIUM}")

    notes: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="taste-walk-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        log_path = Path(tmp) / "streamlit.log"
        with server(home, log_path) as url:
            out = walk(url, home, args.votes, sync_api, notes)
        log = log_path.read_text(errors="replace")
        os.environ["PANTRY_HOME"] = str(home)
        os.environ.setdefault("PANTRY_DEVICE", "cpu")
        from pantry.lab import Lab, ModelChoice
        from pantry.model.reward import heuristic_model
        from pantry.settings import Settings

        lab = Lab(Settings.from_env())
        recipes, reading = probe_recipes(args.probe_seeds)
        choice = lab.model_for(USER)
        assert choice.kind == "personal" and choice.version_id == out["active"].id, choice.label
        scored = {s.recipe.id: s.score for s in lab.score(recipes, USER, reading.pantry, choice=choice)}
        model = ranking_figures([scored[r.id] for r in recipes], recipes)
        heur = ModelChoice(heuristic_model(lab.embedder_name, lab.embedder.dim), "heuristic", None, "", ())
        hscored = {s.recipe.id: s.score for s in lab.score(recipes, USER, reading.pantry, choice=heur)}
        base = ranking_figures([hscored[r.id] for r in recipes], recipes)
        rng = random.Random(0)
        rand = ranking_figures([rng.random() for _ in recipes], recipes)
    total = time.perf_counter() - start

    n_veg = sum(is_veg(r) for r in recipes)
    rows = [
        Row(f"veg-first share, {model['pairs_vm']} (veg, meat) probe pairs", model["veg_first"], unit="",
            target=">= 0.75", baseline=base["veg_first"], baseline_name="heuristic", ok=model["veg_first"] >= 0.75,
            note=f"random {rand['veg_first']:.2f}"),
        Row(f"quicker-first share, {model['pairs_q']} same-kind pairs", model["quick_first"], unit="",
            target=">= 0.55", baseline=base["quick_first"], baseline_name="heuristic",
            ok=model["quick_first"] >= 0.55, note=f"random {rand['quick_first']:.2f}"),
        Row("Spearman(score, -minutes) within kind", model["rho"], unit="", target="> 0",
            baseline=base["rho"], baseline_name="heuristic", ok=model["rho"] > 0,
            note=f"random {rand['rho']:.2f}"),
        Row("exceptions on screen + page errors + alert() dialogs",
            float(len(out["exceptions"]) + len(out["console"]) + len(out["dialogs"])), unit="", target="0",
            ok=not (out["exceptions"] or out["console"] or out["dialogs"])),
        Row("tracebacks in the server log", float(log.count("Traceback")), unit="", target="0",
            ok="Traceback" not in log),
    ]
    rows += [Row(f"{k}", v, target=None) for k, v in out["timings"].items()]
    rows.append(Row("whole walk", total, target="<= 180 s", ok=total <= 180))
    print_table(rows, f"taste walk: {args.votes} votes by one taste, {len(recipes)} probe recipes ({n_veg} vegetarian), "
                      f"personal v{out['active'].id}")
    print()
    for note in notes:
        print("note:", note)
    for e in out["exceptions"] + out["console"] + [f"dialog: {d}" for d in out["dialogs"]]:
        print("problem:", e)
    if "Traceback" in log:
        print(log[-3000:])
    print(f"screenshots: {ARTIFACTS}/walk-*.png")
    checked = [r for r in rows if r.ok is not None and not (args.smoke and "share" in r.name or
                                                            args.smoke and "Spearman" in r.name)]
    if not all(r.ok for r in checked):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
