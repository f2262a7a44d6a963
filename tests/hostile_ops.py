"""tests/test_hostile.py's entries for the operator's routes (ops/): /healthz and /metrics read
no field (a load balancer and Prometheus send none); what a hostile client may send them is in
headers, which tests/test_ops_metrics.py covers (the Authorization header)."""


def routes(Route, F) -> dict:
    return {
        ("GET", "ops.healthz"): Route("GET", None, lambda c: "/healthz"),
        ("GET", "ops.metrics"): Route("GET", None, lambda c: "/metrics"),
    }
