"""Online-monitoring exceedances (RULES §8, seed 000)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the exceedance workflow."""
