"""Typical cases published to the public, anonymised (RULES §10, annex 4)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the typical cases."""
