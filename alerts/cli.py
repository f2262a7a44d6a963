"""`flask alerts hj212-serve`: the HJ 212 receiver on the app's database; `flask alerts
station-add`, `station-status` and `station-secret`: the register of stations from a shell (the
same checks and history as the stations' pages, recorded as made by a command)."""

import ctypes
import logging
import os
import sys
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from alerts import stations
from alerts.gates import Router
from alerts.hj212_ingest import DatabaseGate
from alerts.models import Station, StationKind, StationStatus
from alerts.receiver import Limits, Receiver
from alerts.registry import HJ212_GATES
from extensions import db
from grid.errors import ServiceError
from grid.forms import unit_of_work

alerts_cli = AppGroup("alerts", help="Monitoring stations and their readings.")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DEFAULTS = Limits()
_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


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
    """Receive HJ 212-2017 packets from monitoring stations (and the senders other domains
    register in alerts.registry.HJ212_GATES: enterprises' CEMS) over TCP and store their
    readings; reply to each data packet once it is committed. Logs to stderr, one line per refused
    packet with its reason. Stops on Ctrl-C or SIGTERM."""
    _log_to_stderr()
    _fewer_malloc_arenas()
    limits = Limits(
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        frame_timeout=frame_timeout,
        worker_threads=workers,
    )
    app = current_app._get_current_object()
    gate = DatabaseGate(app, cache_seconds=cache_seconds, writers=writers)
    # Other senders (enterprises' CEMS, ...) registered by the domains above: behind a router,
    # the stations' gate first. Without any, the stations' gate alone, as it always was.
    others = [entry.make(app) for entry in HJ212_GATES.ordered(app)]
    served: DatabaseGate | Router = Router([gate, *others]) if others else gate
    receiver = Receiver(served.authenticate, served.store, limits, recall=served.recall)
    try:
        receiver.serve_forever(host, port)  # until Ctrl-C or SIGTERM
    finally:
        served.close()
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


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (unless MALLOC_ARENA_MAX says otherwise), before the threads
    start. glibc gives each thread that allocates at once an arena of its own, up to eight per
    core, and memory freed in one is reused only there: under the ten-minute soak of 1,000
    connections (docs/reliability-hj212.md) the memory in use stayed at 50-65 MB while the
    arenas' free part grew from 26 to 64 MB and the RSS with it. With two arenas it stays level.
    Not glibc (musl, macOS): nothing to do."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


def _log_to_stderr() -> None:
    """The receiver's lines (gridpatrol.*) at INFO on stderr, whatever the root logger does."""
    logger = logging.getLogger("gridpatrol")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)


# --- the register of stations -----------------------------------------------------------------


@alerts_cli.command("station-add")
@click.argument("code")
@click.option("--name", required=True, help="The station's name as shown.")
@click.option(
    "--kind", type=click.Choice([k.value for k in StationKind]), default="micro", show_default=True
)
@click.option("--lon", type=float, required=True, help="WGS-84 longitude, decimal degrees.")
@click.option("--lat", type=float, required=True, help="WGS-84 latitude, decimal degrees.")
@click.option("--mn", default=None, help="The device's HJ 212 MN code.")
@click.option("--password", default=None, help="The HJ 212 password set on the device.")
@click.option("--make-password", is_flag=True, help="Make an HJ 212 password (printed once).")
@click.option("--token", "issue_token", is_flag=True, help="Issue an HTTP token (printed once).")
@click.option("--lenient", is_flag=True, help="Accept what older devices send.")
def station_add_command(
    code, name, kind, lon, lat, mn, password, make_password, issue_token, lenient
) -> None:
    """Register station CODE; its grid is found from the point. Secrets are printed once."""
    fields = stations.StationFields(name, kind, lon, lat, mn or None, lenient)
    issued = _change(
        lambda: stations.register(
            code,
            fields,
            by=None,
            password=password,
            issue_password=make_password,
            issue_token=issue_token,
        )
    )
    click.echo(f"Registered {code} (id {issued.station.id}).")
    _echo_secrets(issued)


@alerts_cli.command("station-status")
@click.argument("code")
@click.argument("status", type=click.Choice([s.value for s in StationStatus]))
@click.option("--reason", default=None, help="Why (required unless back in service).")
def station_status_command(code, status, reason) -> None:
    """Put station CODE in service, under maintenance (no alerts) or retire it (readings
    refused)."""
    station = _station(code)
    _change(lambda: stations.set_status(station, status, by=None, note=reason))
    click.echo(f"{code} is {status}.")


@alerts_cli.command("station-secret")
@click.argument("code")
@click.option("--token", "issue_token", is_flag=True, help="Issue a new HTTP token.")
@click.option("--password", default=None, help="Set this HJ 212 password (as on the device).")
@click.option("--make-password", is_flag=True, help="Make a new HJ 212 password.")
def station_secret_command(code, issue_token, password, make_password) -> None:
    """Replace station CODE's HTTP token and/or HJ 212 password; the new ones are printed once
    and the old ones stop working."""
    if not (issue_token or password or make_password):
        raise click.UsageError("say what to replace: --token, --password or --make-password")
    if password and make_password:
        raise click.UsageError("--password and --make-password are exclusive")
    station = _station(code)

    def replace() -> stations.Issued:
        token = stations.issue_token(station, by=None) if issue_token else None
        new = None
        if password or make_password:
            new = stations.set_password(station, by=None, password=password)
        return stations.Issued(station, token, new)

    _echo_secrets(_change(replace))


def _station(code: str) -> Station:
    station = db.session.scalar(sa.select(Station).where(Station.code == code))
    if station is None:
        raise click.ClickException(f"no station with code {code}")
    return station


def _change(action: Any) -> Any:
    """Run `action` in one transaction; a refusal is the command's error, nothing kept."""
    try:
        with unit_of_work():
            return action()
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_secrets(issued: stations.Issued) -> None:
    if issued.token:
        click.echo(f"HTTP token (Authorization: Bearer ...): {issued.token}")
    if issued.password:
        click.echo(f"HJ 212 password (PW) for MN {issued.station.mn}: {issued.password}")


def register(app: Any) -> None:
    app.cli.add_command(alerts_cli)
