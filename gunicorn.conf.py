"""How gunicorn serves the app (`make run`, and the model for a deployment; gunicorn reads this
file from the working directory, or with `-c gunicorn.conf.py`).

Sync workers, one process per request at a time, cores + 1 of them:
- The app is CPU-bound. SQLite runs in the process, and a photo's decoding and encoding are
  most of a write's work. Pillow's JPEG encoder holds the GIL, so threads in one process take
  turns on one core. Processes use every core. The extra process fills the core a worker
  leaves idle while it waits on a file's fsync or its turn at SQLite's write lock.
- A new connection goes to whichever worker is free. Threaded workers keep a connection alive
  and bound to its process, so 20 busy phones could split 13 to 7 over two processes: one
  saturated, the other half idle.

With 20 supervisors writing at once on two cores, trial runs of this setup served 46 to 55
writes/s with a p95 of 0.42 to 0.52 s. Two processes of four threads each served 44 to 46 writes/s
with a p95 of 0.70 to 0.94 s (docs/benchmarks.md, "Writes under load").

A sync worker reads a request's body itself, so a slow client holds it for as long as its upload
takes: tried directly, two half-sent uploads stall a server of two workers. In production nginx
goes in front (deploy/nginx/), buffers every body, and the worker only sees complete requests;
tests/test_deploy.py shows eight half-sent uploads through nginx stalling no one. `timeout`
gives a phone on a poor network two minutes for a photo when nothing is in front (nginx's
proxy_read_timeout is 130 s, just above it).

Each worker counts its requests for /metrics in files of its own under PROMETHEUS_MULTIPROC_DIR
when that is set (ops/metrics.py; emptied before gunicorn starts), and a scrape adds them up: a
worker's counts stay after it exits, so the totals never drop, and `child_exit` removes what
must not outlive it (prometheus_client's gauges of live processes).

Environment: WEB_CONCURRENCY (workers), GRIDPATROL_BIND (default 127.0.0.1:5000),
PROMETHEUS_MULTIPROC_DIR (metrics across workers).
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("GRIDPATROL_BIND", "127.0.0.1:5000")
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
timeout = 120  # seconds a request may take before its worker is replaced
graceful_timeout = 30
accesslog = "-"


def child_exit(server, worker):
    """A worker has exited (replaced, killed or stopped): forget its live-process gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
