"""The API's routes, one router per job (FastAPI's "bigger applications" layout): `health`
(no auth), `docs`, `recipes` (/recipes, /rank), `pairs`, `votes`, `models`, `train`,
`household`. `pantry.api.app.create_app` includes them; the shared dependencies (who is
asking, the Lab, the profile rules) are in `pantry.api.deps`.
"""
