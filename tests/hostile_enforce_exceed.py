"""tests/test_hostile.py's entries for enforce/exceed (merged through tests/hostile_enforce.py)."""


def routes(Route, F) -> dict:
    return {}


def records(world) -> dict:
    return {}
