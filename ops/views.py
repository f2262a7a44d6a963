"""The operator's blueprint: /healthz (ops/health.py) and /metrics (ops/metrics.py) add their
routes to it; health.init_app registers it. Neither route counts against a rate limit: a load
balancer and Prometheus ask every few seconds, from one address."""

from flask import Blueprint

from extensions import limiter

bp = Blueprint("ops", __name__)
limiter.exempt(bp)
