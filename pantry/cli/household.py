"""Commands for a household sharing one pantry: household (one ranking for 2-6 profiles) and
diet (a profile's hard limits)."""

from __future__ import annotations

import json

from pantry.cli.common import _lab, _store



def cmd_household(args) -> int:
    from pantry.generators import GenerationRequest, select_generator
    from pantry.generators.base import check_recipe_count
    from pantry.household import plan_household
    from pantry.kitchen import read_pantry
    lab = _lab()
    check_recipe_count(args.n, "--n")
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    reading = read_pantry(args.pantry, kitchen=lab.kitchen, max_chars=lab.settings.max_pantry_chars)
    request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=args.n,
                                seed=args.seed)
    ranking = plan_household(lab, select_generator(lab.settings, args.backend), request, members)
    if args.top:
        from dataclasses import replace
        ranking = replace(ranking, ranked=ranking.ranked[:args.top])
    if args.json:
        print(json.dumps(ranking.to_dict()))
        return 0
    words = {"likes": "likes it", "neutral": "is neutral", "would_rather_not": "would rather not"}
    for m in ranking.members:
        kind, label = ranking.models[m]
        limits = ", ".join(ranking.limits[m]) or "none"
        print(f"# {m}: {label} model; limits: {limits}")
    for p in ranking.ranked:
        print(f"{p.rank}. {p.recipe.title}  (lowest z {p.min_z:+.2f}, sum {p.sum_z:+.2f})  [{p.recipe.id}]")
        print("   " + "; ".join(f"{ms.member} {words[ms.liking]} ({ms.z:+.2f})" for ms in p.members))
    for r, why in ranking.removed:
        print(f"removed: {r.title}: {'; '.join(why)}")
    if not ranking.ranked:
        print("no recipe keeps to every member's limits: try another pantry")
    return 0


def cmd_diet(args) -> int:
    from pantry.household import existing_profile, member_limits, set_member_limits
    store = _store()
    name = existing_profile(store, args.user)  # as stored; a diet never creates a profile
    if args.set is not None:
        limits = set_member_limits(store, name, [x for x in args.set.split(",") if x.strip()])
    else:
        limits = member_limits(store, name)
    print(json.dumps({"user": name, "limits": list(limits)}) if args.json else
          f"{name}: {', '.join(limits) or 'no limits'}")
    return 0
