"""Helpers every app may use (the lowest layer: imports Django and nothing of this project)."""
