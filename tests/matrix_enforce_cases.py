"""Access-matrix entries for enforce/cases (merged through tests/matrix_enforce.py)."""


def case_routes(Route, sees):
    return {}
