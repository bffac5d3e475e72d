"""Simulated Compare sessions with the offline composer, written as JSON (for composer_realism).

Runs against whatever `pantry` is first on the path, so `bench/composer_realism.py` can run
it on an older revision (extracted with `git archive`) for the "before" figures. It only uses
calls that every revision since the composer's dish book has: `read_pantry`,
`GenerationRequest`, `OfflineComposer.generate`, `drop_near_duplicates`,
`drop_recently_shown` and `valid_pairs` (and `fit_for_pantry` where the revision has it).
Each round does what the Compare page does: 6 candidates, near-duplicates and recently
shown dishes dropped, those far below the best pantry share left out, then a pair; the pair is a
random valid pair (a new user's model has no preference worth simulating). Where the
request has `recent` (the session's latest recipes), it is passed, as the Compare page does.

    python bench/composer_sessions.py OUT.json [--sessions 40] [--rounds 8] [--family-choice random]
"""

from __future__ import annotations

import argparse
import json
import random
import sys

PANTRIES = [
    "tofu, broccoli, rice noodles, peanut butter",
    "eggs, spinach, feta, onion",
    "chicken, rice, peppers, onion, garlic",
    "pasta, tomatoes, basil, mozzarella",
    "potatoes, leek, cheddar, milk",
    "salmon, lemon, asparagus, new potatoes",
    "chickpeas, canned tomatoes, spinach, coconut milk",
    "minced beef, kidney beans, tortillas, cheddar",
    "bread, ham, cheese, eggs",
    "lentils, carrots, onion, cumin",
]
ITEMS = ["spinach", "soy sauce", "garlic", "rice", "pasta", "broccoli", "bell pepper", "chickpeas", "lentils",
         "canned tomatoes", "coconut milk", "ginger", "green onions", "tortillas", "black beans", "bacon", "ham",
         "parmesan", "mozzarella", "yogurt", "lemon", "lime", "noodles", "peas", "carrot", "cabbage", "kale",
         "salmon", "prawns", "sausages", "bread", "milk", "peanut butter", "feta", "eggplant", "cauliflower",
         "potato", "leek", "tofu", "eggs", "chicken", "mushrooms", "onion", "tomatoes", "zucchini", "cheddar",
         "sweet potato", "beef mince", "tuna", "quinoa", "couscous", "avocado", "corn", "green beans"]
N_CANDIDATES = 6


def pantries(n: int) -> list[str]:
    rng = random.Random(18)
    out = list(PANTRIES)
    while len(out) < n:
        out.append(", ".join(rng.sample(ITEMS, rng.randint(3, 7))))
    return out[:n]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--family-choice", default=None, help="'random': a uniformly random dish-book family")
    ap.add_argument("--no-fit", action="store_true", help="choose the pair without `fit_for_pantry`")
    args = ap.parse_args(argv)

    from pantry import compare
    from pantry.compare import drop_recently_shown, valid_pairs
    fit_for_pantry = None if args.no_fit else getattr(compare, "fit_for_pantry", None)  # not in older revisions
    from pantry.errors import GeneratorError
    from pantry.generators.base import GenerationRequest
    from pantry.generators.composer import OfflineComposer
    from pantry.kitchen import read_pantry
    from pantry.kitchen.dedupe import drop_near_duplicates

    composer = OfflineComposer(family_choice=args.family_choice) if args.family_choice else OfflineComposer()
    sessions = []
    for s, text in enumerate(pantries(args.sessions)):
        reading = read_pantry(text)
        rng = random.Random(s)
        recent: list = []
        rounds = []
        for r in range(args.rounds):
            extra = {"recent": tuple(recent)} if "recent" in GenerationRequest.__dataclass_fields__ else {}
            request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked,
                                        n=N_CANDIDATES, seed=rng.randrange(1 << 31), **extra)
            try:
                made = composer.generate(request)
            except GeneratorError:
                continue
            distinct = drop_recently_shown(drop_near_duplicates(made), recent)
            distinct = fit_for_pantry(distinct, reading.pantry) if fit_for_pantry else distinct
            # As prepare_round: no pair of one family while another is left (revisions with fit_for_pantry).
            pairs = (valid_pairs(distinct, compare.Duplicates(family=True)) if fit_for_pantry else []) \
                or valid_pairs(distinct)
            if not pairs:
                continue
            i, j = rng.choice(pairs)
            shown = [distinct[i], distinct[j]]
            recent.extend(shown)
            del recent[:-12]
            rounds.append({"candidates": [c.to_dict() for c in made], "pair": [x.to_dict() for x in shown]})
        sessions.append({"pantry_text": text, "pantry": list(reading.pantry), "rounds": rounds})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(sessions, f)
    print(f"{sum(len(s['rounds']) for s in sessions)} rounds written", file=sys.stderr)


if __name__ == "__main__":
    main()
