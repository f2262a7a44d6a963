"""The words for the alerts' codes (statuses, rules, kinds of station), in the user's language,
and an alert's message filled in that language."""

from datetime import datetime

from flask_babel import gettext

from i18n import N_
from i18n.language import label

STATUSES = {
    "open": N_("Waiting for dispatch"),
    "dispatched": N_("People sent"),
    "closed": N_("Closed"),
}
RULES = {
    "level": N_("Air quality level"),
    "spike": N_("Sudden rise"),
    "spatial": N_("Above its neighbours"),
    "silent": N_("No data"),
    "flat": N_("Flat line"),
    "flag": N_("Data flag"),
    "suspect": N_("Suspect device"),
    "manual": N_("Pushed by the prefecture"),
}
STATION_KINDS = {
    "national": N_("National station"),
    "regional": N_("Regional station"),
    "micro": N_("Micro-station"),
}
STATION_STATUSES = {
    "active": N_("In service"),
    "maintenance": N_("Under maintenance"),
    "retired": N_("Retired"),
}
STATION_CHANGES = {
    "created": N_("Registered"),
    "edited": N_("Particulars changed"),
    "status": N_("Status changed"),
    "token": N_("New API token issued"),
    "password": N_("New HJ 212 password set"),
}
# The fields an edit names in a change's detail ("name: old → new", one a line).
STATION_FIELDS = {
    "name": N_("Station name"),
    "kind": N_("Kind"),
    "mn": N_("HJ 212 MN"),
    "lenient": N_("Lenient protocol"),
    "location": N_("Location"),
    "password": N_("HJ 212 password"),
}


def station_change_detail(detail: str | None) -> str:
    """A change's detail with each line's field named in the user's language."""
    lines = []
    for line in (detail or "").splitlines():
        name, colon, rest = line.partition(": ")
        lines.append(f"{gettext(STATION_FIELDS[name])}: {rest}" if name in STATION_FIELDS else line)
    return "\n".join(lines)


def alert_text(alert) -> str:
    """An alert's message (an English msgid with placeholders) in the user's language."""
    try:
        return gettext(alert.message) % (alert.params or {})
    except (KeyError, TypeError, ValueError):
        return gettext(alert.message)


def epoch_ms(naive_utc: datetime) -> int:
    """A stored (naive UTC) time as the milliseconds a browser's clock counts."""
    return int((naive_utc - datetime(1970, 1, 1)).total_seconds() * 1000)


def register(app) -> None:
    app.jinja_env.filters.update(
        alert_status_label=label(STATUSES),
        alert_rule_label=label(RULES),
        station_kind_label=label(STATION_KINDS),
        station_status_label=label(STATION_STATUSES),
        station_change_label=label(STATION_CHANGES),
        station_change_detail=station_change_detail,
        alert_text=alert_text,
        epoch_ms=epoch_ms,
    )
