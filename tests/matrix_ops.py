"""Access-matrix entries for the operator's routes (ops/), merged into
tests/test_access_matrix.py's ROUTES:

    from tests.matrix_ops import ops_routes
    ROUTES.update(ops_routes(Route))

Policy: neither depends on who is signed in. /healthz answers anyone (a load balancer signs in as
no one). /metrics answers by address or token, never by role: the test client comes from
127.0.0.1 and no METRICS_TOKEN is set, so every actor reads it here; tests/test_ops_metrics.py
checks the address and token rules themselves.
"""


def ops_routes(Route) -> dict:
    def everyone(status):
        return lambda actor, _target: status

    return {
        "ops.healthz": Route("GET", lambda w, t: "/healthz", [None], everyone(200)),
        "ops.metrics": Route("GET", lambda w, t: "/metrics", [None], everyone(200)),
    }
