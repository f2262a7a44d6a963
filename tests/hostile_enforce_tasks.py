"""tests/test_hostile.py entries for enforce's task pages (via tests/hostile_enforce.py)."""


def routes(Route, F) -> dict:
    return {}


def records(world) -> dict:
    return {}
