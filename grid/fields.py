"""What people type into forms, read strictly: a value, or a ServiceError that says what is wrong.

Shared by the views of people and posts, the ledger, the problems and the findings."""

import math
from datetime import date

from flask_babel import gettext as _

from grid.services import ServiceError


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
