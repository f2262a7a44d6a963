"""Access-matrix entries for enforce's cycle pages (merged through tests/matrix_enforce.py)."""


def cycle_routes(Route, sees):
    return {}
