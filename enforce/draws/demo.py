"""The Changji demo's data for this workflow (called by desk/cli.py's load_demo)."""

from collections.abc import Callable
from datetime import date


def load(start: date, echo: Callable[[str], None]) -> str:
    """Nothing yet."""
    return ""
