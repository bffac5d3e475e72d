"""PantryPilot preference lab: learn one person's taste in recipes.

The library behind the Streamlit app and the `python -m pantry` command line. It never
imports streamlit: pages call into it and get plain Python objects back.
"""

__version__ = "0.1.0"
