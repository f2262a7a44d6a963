"""tests/test_hostile.py's entries for enforce/draws (merged through tests/hostile_enforce.py)."""


def routes(Route, F) -> dict:
    return {}


def records(world) -> dict:
    return {}
