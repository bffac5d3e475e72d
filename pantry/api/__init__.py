"""The HTTP API: a FastAPI service over the library (`python -m pantry serve`).

What the package is for: the JSON endpoints of issue 9 (health, recipes, rank, pairs,
votes, models, training jobs, household), one module per job: `schemas` (pydantic bodies
and responses, built on the domain's field rules), `tokens` (signed pair tokens), `jobs`
(background training jobs kept on the app instance), `deps` (who is asking, the Lab, the
profile rules), `guard` (auth and the body cap, before the body is read), `convert`
(library objects to bodies), `routers/` (the routes, one router per job) and `app`
(`create_app`: middleware, error handlers, routers). One `Lab` (and so one `Store`) per app
instance; every write goes through a `Lab` method.

What it may import: everything in `pantry`; nothing in `pantry` imports it (it is a top
layer, like `lab` and `cli`). `import pantry.api` is light: `create_app` (FastAPI, the
Lab) loads on first use.
"""

from pantry.base import lazy_exports

_NAMES = {"create_app": "pantry.api.app"}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
