"""GET /metrics: what Prometheus scrapes from each application server, in its text format.

Counted by every request, in the process that served it:
- gridpatrol_http_requests_total{endpoint, method, status}: by the route's endpoint name, not
  the path a client sent, so that the series are as many as the routes ("404", "405" or "308"
  when no route matched); a method no route knows counts as "other". Counted at the request's
  teardown, so a request whose view failed counts too.
- gridpatrol_http_request_duration_seconds{endpoint, method}: from the first before-request
  hook to the teardown, in buckets from 5 ms to 10 s.

Read when scraped, by the process that answers (so each appears once, however many workers):
- gridpatrol_task_queue_pending, gridpatrol_task_queue_scheduled: huey's tasks waiting to run,
  and waiting for their time (retries with back-off, delayed tasks);
- gridpatrol_delivery_attempts_last_hour{channel, status}: notify's delivery log;
- gridpatrol_minute_readings_last_5m{source}: minute values measured in the last 5 minutes
  ("hj212" from the receiver, "http" from the API, "replay" from the demo);
- gridpatrol_stations{status}, gridpatrol_stations_reporting_last_5m{status}: the register of
  stations, and those whose last reading arrived in the last 5 minutes;
- gridpatrol_metrics_part_ok{part}: 0 when one of these could not be read (its error logged).

Several worker processes (gunicorn): when PROMETHEUS_MULTIPROC_DIR names a folder, each process
writes its counts to files there and a scrape adds them up (prometheus_client's multiprocess
mode); the folder is emptied before gunicorn starts (systemd's RuntimeDirectory), and
gunicorn.conf.py's child_exit hook tells it when a worker is gone. Without it, the process's own
counts, with its CPU, memory and open files.

Who may read it. With METRICS_TOKEN set, only a request with `Authorization: Bearer <token>`
(401 otherwise); Prometheus then scrapes each application server's own port from wherever it
runs. Unset, only a request from this machine (127.0.0.0/8, ::1), and 404 for anyone else. The
address is the client's only when the app sees clients directly or believes its proxy's
X-Forwarded-For (TRUSTED_PROXIES); through a proxy it does not trust, every request comes from
the proxy's address, perhaps this machine's: so nginx refuses /metrics itself
(deploy/nginx/gridpatrol-locations.conf), and scrapes never go through the site.
"""

import gzip
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from flask import Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.queries import minute_readings_since, stations_reporting
from extensions import db, huey
from grid.time import utcnow
from notify.queries import delivery_counts
from ops.views import bp

log = logging.getLogger(__name__)

DEFAULTS = {
    # A bearer token Prometheus must send; unset, only this machine may read /metrics. Make one
    # with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.
    "METRICS_TOKEN": None,
}
_TOKEN_MIN_LENGTH = 16

# Seconds; a page is tens of milliseconds, a photo's upload hundreds, a timeout 120 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
READINGS_WINDOW = timedelta(minutes=5)
DELIVERIES_WINDOW = timedelta(hours=1)

# Prometheus reads no *_created series from the text format: they would double the series.
disable_created_metrics()
# Not in prometheus_client's global registry: each scrape gathers its own (_registry).
REQUESTS = Counter(
    "gridpatrol_http_requests",
    "Requests served, by endpoint, method and status.",
    ["endpoint", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "gridpatrol_http_request_duration_seconds",
    "Time to answer a request, by endpoint and method.",
    ["endpoint", "method"],
    buckets=BUCKETS,
    registry=None,
)

_STARTED = "gridpatrol.metrics.started"  # keys of the request's WSGI environ
_STATUS = "gridpatrol.metrics.status"


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    token = app.config["METRICS_TOKEN"]
    if token and (not isinstance(token, str) or len(token) < _TOKEN_MIN_LENGTH):
        raise RuntimeError(
            f"GRIDPATROL_METRICS_TOKEN must be at least {_TOKEN_MIN_LENGTH} characters; make "
            "one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    # First of the before-request hooks, so that the others' time counts too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_remember_status)
    app.teardown_request(_count)


@bp.route("/metrics")
def metrics():
    """The metrics in Prometheus's text format, for Prometheus only (see the module's note)."""
    _authorise()
    body = generate_latest(_registry())
    response = Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
    if request.accept_encodings.quality("gzip") > 0:  # Prometheus asks; the text shrinks ~15x
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = "no-store"
    return response


def _authorise() -> None:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _space, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            abort(Response("A bearer token is required.\n", 401, {"WWW-Authenticate": "Bearer"}))
    elif not _loopback(request.remote_addr):
        abort(404)


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


# --- counting requests ---------------------------------------------------------------------------


def _start() -> None:
    request.environ[_STARTED] = time.perf_counter()


def _remember_status(response: Response) -> Response:
    request.environ[_STATUS] = response.status_code
    return response


def _count(_exc: BaseException | None) -> None:
    started = request.environ.pop(_STARTED, None)
    if started is None:  # a request context pushed by code, not a request served
        return
    # No after-request hook ran when the view's exception escaped: the server answers 500.
    status = request.environ.pop(_STATUS, 500)
    endpoint = request.endpoint or str(getattr(request.routing_exception, "code", 404))
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)


# --- a scrape ------------------------------------------------------------------------------------


def _registry() -> CollectorRegistry:
    """What this scrape reports: every process's counts (multiprocess mode) or this one's, and
    the values read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    registry.register(_ReadNow(_read_now()))
    return registry


class _ReadNow(Collector):
    """Metric families read once for this scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _read_now() -> list[Metric]:
    parts: dict[str, Callable[[], list[Metric]]] = {
        "queue": _queue,
        "deliveries": _deliveries,
        "readings": _readings,
        "stations": _stations,
    }
    families: list[Metric] = []
    ok = GaugeMetricFamily(
        "gridpatrol_metrics_part_ok",
        "1 when this part of the metrics was read, 0 when it failed (see the log).",
        labels=["part"],
    )
    for part, read in parts.items():
        try:
            families.extend(read())
        except Exception as exc:
            log.warning("metrics: %s could not be read: %s: %s", part, type(exc).__name__, exc)
            db.session.rollback()  # PostgreSQL refuses the next query after a failed one
            ok.add_metric([part], 0)
        else:
            ok.add_metric([part], 1)
    return [*families, ok]


def _queue() -> list[Metric]:
    pending = GaugeMetricFamily(
        "gridpatrol_task_queue_pending", "Tasks waiting for a consumer.", value=huey.pending_count()
    )
    scheduled = GaugeMetricFamily(
        "gridpatrol_task_queue_scheduled",
        "Tasks waiting for their time: retries after a back-off, delayed tasks.",
        value=huey.scheduled_count(),
    )
    return [pending, scheduled]


def _deliveries() -> list[Metric]:
    family = GaugeMetricFamily(
        "gridpatrol_delivery_attempts_last_hour",
        "Delivery attempts (Web Push, robots, SMS) in the last hour, by channel and status.",
        labels=["channel", "status"],
    )
    for (channel, status), count in sorted(delivery_counts(utcnow() - DELIVERIES_WINDOW).items()):
        family.add_metric([channel, status], count)
    return [family]


def _readings() -> list[Metric]:
    family = GaugeMetricFamily(
        "gridpatrol_minute_readings_last_5m",
        "Minute values of the stations measured in the last 5 minutes, by how they came.",
        labels=["source"],
    )
    for source, count in sorted(minute_readings_since(utcnow() - READINGS_WINDOW).items()):
        family.add_metric([source], count)
    return [family]


def _stations() -> list[Metric]:
    stations = GaugeMetricFamily(
        "gridpatrol_stations", "Monitoring stations, by status.", labels=["status"]
    )
    reporting = GaugeMetricFamily(
        "gridpatrol_stations_reporting_last_5m",
        "Stations whose last reading arrived in the last 5 minutes, by status.",
        labels=["status"],
    )
    for status, (count, heard) in sorted(stations_reporting(utcnow() - READINGS_WINDOW).items()):
        stations.add_metric([status], count)
        reporting.add_metric([status], heard)
    return [stations, reporting]
