"""What people type into forms and phones send, read strictly: a value, or a ServiceError that
says what is wrong. Every domain reads its dates and coordinates through these."""

import math
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from grid.errors import ServiceError


def read_day(text: str | None, default: date | None = None) -> date | None:
    """The date typed as YYYY-MM-DD; `default` when nothing was typed."""
    text = (text or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ServiceError(_("Dates are written as YYYY-MM-DD.")) from exc


def read_required_day(text: str | None) -> date:
    found = read_day(text)
    if found is None:
        raise ServiceError(_("Dates are written as YYYY-MM-DD."))
    return found


def read_degrees(text: str | None) -> float | None:
    """A latitude or longitude typed in decimal degrees (a decimal comma is accepted); None
    when nothing was typed. Not-a-number and infinity are refused like any other garbage."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ServiceError(
            _("Latitude and longitude are decimal degrees (WGS-84), such as 44.0123.")
        )
    return value


def read_position(data: dict, field: object = "") -> tuple[float, float, float | None] | None:
    """(lon, lat, accuracy) from an item's data, or None when it has no fix; refuse nonsense.
    `field` names the position in the refusal (a translated label, such as "Start of the
    patrol")."""
    if data.get("lat") is None and data.get("lon") is None:
        return None
    try:
        lat, lon = float(data["lat"]), float(data["lon"])
        accuracy = None if data.get("accuracy") is None else float(data["accuracy"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(
            _l("%(field)s: the position is not a pair of numbers.", field=field)
        ) from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ServiceError(
            _l(
                "%(field)s: the position is outside latitude -90 to 90, longitude -180 to 180.",
                field=field,
            )
        )
    if accuracy is not None and (not math.isfinite(accuracy) or not 0 <= accuracy <= 1e6):
        accuracy = None
    return lon, lat, accuracy
