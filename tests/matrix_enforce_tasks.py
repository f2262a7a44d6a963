"""Access-matrix entries for enforce's tasks pages (merged through tests/matrix_enforce.py)."""


def task_routes(Route, sees):
    return {}
