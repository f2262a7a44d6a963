"""`flask alerts hj212-serve`: the HJ 212 receiver on the app's database."""

import logging
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from alerts.hj212_ingest import DatabaseGate
from alerts.receiver import Limits, Receiver

alerts_cli = AppGroup("alerts", help="Monitoring stations and their readings.")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DEFAULTS = Limits()


@alerts_cli.command("hj212-serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9212,
    show_default=True,
    help="TCP port (HJ 212 fixes none; 0: any free port, written to the log).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=_DEFAULTS.max_connections,
    show_default=True,
    help="Connections open at once; more are closed as soon as accepted.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULTS.idle_timeout,
    show_default=True,
    help="Seconds without a byte before a connection is closed.",
)
@click.option(
    "--frame-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULTS.frame_timeout,
    show_default=True,
    help="Seconds a started packet may take to arrive whole.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=_DEFAULTS.worker_threads,
    show_default=True,
    help="Threads that read a station from the database when its cached password and status "
    "are missing or stale (every other packet is authenticated from the cache).",
)
@click.option(
    "--writers",
    type=click.IntRange(1),
    default=None,
    help="Threads that write to the database (default: 2 on PostgreSQL, 1 on SQLite).",
)
@click.option(
    "--cache-seconds",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="How long a station's password and status are kept before they are read again.",
)
def hj212_serve_command(
    host: str,
    port: int,
    max_connections: int,
    idle_timeout: float,
    frame_timeout: float,
    workers: int,
    writers: int | None,
    cache_seconds: float,
) -> None:
    """Receive HJ 212-2017 packets from monitoring stations over TCP and store their readings;
    reply to each data packet once it is committed. Logs to stderr, one line per refused
    packet with its reason. Stops on Ctrl-C or SIGTERM."""
    _log_to_stderr()
    limits = Limits(
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        frame_timeout=frame_timeout,
        worker_threads=workers,
    )
    app = current_app._get_current_object()
    gate = DatabaseGate(app, cache_seconds=cache_seconds, writers=writers)
    receiver = Receiver(gate.authenticate, gate.store, limits, recall=gate.recall)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        receiver.serve_forever(host, port)
    except KeyboardInterrupt:
        pass
    finally:
        gate.close()
    stats = receiver.stats
    receiver.log.info(
        "HJ 212 receiver stopped: %d connections, %d frames, %d packets stored (%d values, "
        "%d duplicates, %d skipped), refused %s",
        stats.connections,
        stats.frames,
        stats.stored,
        gate.stats["stored"],
        gate.stats["duplicates"],
        gate.stats["skipped"],
        dict(stats.refused) or "none",
    )


def _interrupt(_signum: int, _frame: Any) -> None:
    """SIGTERM ends the receiver as Ctrl-C does: connections closed, threads released."""
    raise KeyboardInterrupt


def _log_to_stderr() -> None:
    """The receiver's lines (gridpatrol.*) at INFO on stderr, whatever the root logger does."""
    logger = logging.getLogger("gridpatrol")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)


def register(app: Any) -> None:
    app.cli.add_command(alerts_cli)
