"""Streamlit-side helpers for the PantryPilot app (the library, `pantry`, never imports these)."""
