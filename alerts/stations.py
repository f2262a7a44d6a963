"""Keeping the register of stations: adding one, changing its particulars and status, and
issuing its secrets (the HTTP token, the HJ 212 password). Every change is kept in the
station's history (`StationChange`), with who made it.

The prefecture office keeps every station; a county office keeps the micro-stations in its
county (the national and regional networks are not the county's to change). The pages
(views.py) and the commands (`flask alerts station-*`, cli.py) both come here, so the checks
are the same whoever asks.

Secrets are shown once, when issued, and stored as their SHA-256 (services.secret_hash): a lost
one is replaced, never read back. A new token stops the old one at once; a new password takes
effect at the HJ 212 receiver within its cache time (5 s by default).
"""

import re
import secrets
import string
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from alerts.models import Station, StationChange, StationChangeKind, StationKind, StationStatus
from alerts.services import add_station, grid_at, secret_hash
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User, point
from grid.queries import locate

# HJ 212-2017 §6.3.2: MN is at most 24 characters (the parser's rule, alerts.hj212), PW at most 9.
MN_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,24}")
# A password is sent in clear inside the data segment: no separator (; & = ,) may appear in it.
PASSWORD_PATTERN = re.compile(r"[0-9A-Za-z!#$%()*+./:<>?@\[\]^_{|}~-]{6,9}")
CODE_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,20}")
# Generated passwords: 6 letters and digits, what every device's keypad or setup tool accepts.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 6


@dataclass(frozen=True)
class StationFields:
    """A station's particulars as typed (the code is fixed once the station exists)."""

    name: str
    kind: str
    lon: float
    lat: float
    mn: str | None = None
    lenient: bool = False


@dataclass(frozen=True)
class Issued:
    """A station and the secrets just issued to it: shown once, never stored in clear."""

    station: Station
    token: str | None = None
    password: str | None = None


def county_of_point(lon: float, lat: float) -> Grid | None:
    """The level-2 grid (county) containing a WGS-84 point."""
    return locate(lon, lat, level=2)


def register(
    code: str,
    fields: StationFields,
    *,
    by: User | None,
    within: Collection[int] | None = None,
    password: str | None = None,
    issue_password: bool = False,
    issue_token: bool = False,
) -> Issued:
    """Add a station. `within`: the counties a county office is confined to (None: anywhere).
    `password` is the device's HJ 212 password as set on it; `issue_password` makes one instead
    (for a station with an MN). ServiceError says what is wrong; nothing is added then."""
    if not CODE_PATTERN.fullmatch(code):
        raise ServiceError(_("A station code is 1 to 20 letters, digits, - or _."))
    if db.session.scalar(sa.select(Station.id).where(Station.code == code)) is not None:
        raise ServiceError(_("Station code %(code)s is taken.", code=code))
    _check(fields, within, None)
    if password is not None:
        _check_password(password)
    if (password is not None or issue_password) and not fields.mn:
        raise ServiceError(_("An HJ 212 password needs the station's MN."))
    if password is None and issue_password:
        password = new_password()
    made = add_station(
        code=code,
        name=fields.name,
        kind=fields.kind,
        lon=fields.lon,
        lat=fields.lat,
        mn=fields.mn,
        password=password,
        issue_token=issue_token,
        lenient=fields.lenient,
    )
    _record(made.station, StationChangeKind.CREATED, by, status=made.station.status)
    return Issued(made.station, made.token, password)


def update(
    station: Station,
    fields: StationFields,
    *,
    by: User | None,
    within: Collection[int] | None = None,
) -> list[str]:
    """Change a station's particulars; a new location may put it in another grid. Returns the
    changes in words (empty when nothing changed)."""
    _check(fields, within, station)
    changes = []
    for name, old, new in (
        ("name", station.name, fields.name),
        ("kind", station.kind, fields.kind),
        ("mn", station.mn, fields.mn),
        ("lenient", station.lenient, fields.lenient),
        ("location", (station.lon, station.lat), (fields.lon, fields.lat)),
    ):
        if old != new:
            changes.append(f"{name}: {_said(old)} → {_said(new)}")
    if not changes:
        return []
    if (fields.lon, fields.lat) != (station.lon, station.lat):
        moved = grid_at(fields.lon, fields.lat)
        station.lon, station.lat = fields.lon, fields.lat
        station.point = point(fields.lon, fields.lat)
        station.grid_id = moved.id if moved else None
    if fields.mn != station.mn and station.pw_hash and not fields.mn:
        station.pw_hash = None  # a password without an MN would never be asked for
        changes.append("password: ****** → —")
    station.name, station.kind, station.mn = fields.name, fields.kind, fields.mn
    station.lenient = fields.lenient
    _record(station, StationChangeKind.EDITED, by, detail="\n".join(changes))
    return changes


def set_status(station: Station, status: str, *, by: User | None, note: str | None) -> None:
    """Active, under maintenance (readings kept, no alerts) or retired (readings refused)."""
    if status not in set(StationStatus):
        raise ServiceError(_("Choose a status from the list."))
    if status == station.status:
        raise ServiceError(_("The station is already in that status."))
    if status != StationStatus.ACTIVE and not note:
        raise ServiceError(_("Say why (a maintenance visit, the device removed, ...)."))
    station.status = status
    _record(station, StationChangeKind.STATUS, by, status=status, note=note)


def issue_token(station: Station, *, by: User | None) -> str:
    """A new HTTP token for the station; the old one stops working now."""
    token = secrets.token_urlsafe(32)
    station.token_hash = secret_hash(token)
    _record(station, StationChangeKind.TOKEN, by)
    return token


def set_password(station: Station, *, by: User | None, password: str | None = None) -> str:
    """A new HJ 212 password (`password` as set on the device, or a new one made here)."""
    if not station.mn:
        raise ServiceError(_("An HJ 212 password needs the station's MN."))
    if password is None:
        password = new_password()
    else:
        _check_password(password)
    station.pw_hash = secret_hash(password)
    _record(station, StationChangeKind.PASSWORD, by)
    return password


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _n in range(PASSWORD_LENGTH))


def history(station_id: int) -> list[StationChange]:
    """The station's changes, newest first."""
    return list(
        db.session.scalars(
            sa.select(StationChange)
            .where(StationChange.station_id == station_id)
            .order_by(StationChange.at.desc(), StationChange.id.desc())
        )
    )


# --- checks ---------------------------------------------------------------------------------


def _check(fields: StationFields, within: Collection[int] | None, station: Station | None) -> None:
    if fields.kind not in set(StationKind):
        raise ServiceError(_("Choose a kind from the list."))
    if within is not None and fields.kind != StationKind.MICRO:
        raise ServiceError(_("A county office keeps micro-stations only."))
    county = county_of_point(fields.lon, fields.lat)
    if county is None:
        raise ServiceError(
            _("The location is outside every county of the grid: check the coordinates.")
        )
    if within is not None and county.id not in within:
        raise ServiceError(_("The location is outside your county."))
    if fields.mn is not None:
        if not MN_PATTERN.fullmatch(fields.mn):
            raise ServiceError(_("An MN is 1 to 24 letters, digits, - or _."))
        taken = sa.select(Station.id).where(Station.mn == fields.mn)
        if station is not None:
            taken = taken.where(Station.id != station.id)
        if db.session.scalar(taken) is not None:
            raise ServiceError(_("MN %(mn)s belongs to another station.", mn=fields.mn))


def _check_password(password: str) -> None:
    if not PASSWORD_PATTERN.fullmatch(password):
        raise ServiceError(
            _("An HJ 212 password is 6 to 9 characters, without spaces, ; & = or commas.")
        )


def _said(value: object) -> str:
    if value is None or value == "" or value is False:
        return "—"
    if value is True:
        return "✓"
    if isinstance(value, tuple):
        return ", ".join(f"{v:.6f}" for v in value)
    return str(value)


def _record(station: Station, kind: str, by: User | None, **what: str | None) -> None:
    db.session.flush()  # the station's id, for a new one
    db.session.add(
        StationChange(station_id=station.id, kind=kind, by_id=by.id if by else None, **what)
    )
