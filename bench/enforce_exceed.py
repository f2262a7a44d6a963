"""Part of bench/enforce.py."""

from bench.common import Context


def section(ctx: Context) -> str:
    return "### not written yet"
