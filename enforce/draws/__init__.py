"""Double-random inspections (RULES §9, seeds 004 and 002)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the double-random inspections."""
