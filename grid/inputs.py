"""The one reader of typed input: every form, query string and JSON object a request carries is
read through `Fields`, and every id in a path through `IdConverter`.

A value comes back typed and within a range that makes sense for its field, or `Invalid` is
raised, naming the field (by its label, in the user's language) and what is wrong with it.
Nothing the request did is kept (a view reads its fields before it writes), and the error
handler answers 400 with that message (desk/errors.py).

Plausible means: ids within the database's 64-bit integer, finite numbers within bounds,
coordinates on Earth, dates within a window for the field (by default 2000-01-01 to 2099-12-31,
narrower where the field is about the past or the future), single-line text without control
characters, multi-line text without control characters other than line breaks and tabs,
lengths bounded, and the JSON type asked for (a number is not text, an object is neither).
"""

import math
import unicodedata
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import g, has_request_context, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from grid.errors import ServiceError
from grid.time import local_today

MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
TEXT_MAX = 200  # single-line text, unless the field says otherwise
LONG_TEXT_MAX = 5000  # multi-line text
NUMBER_TEXT_MAX = 40  # digits and signs of a number typed in a form

# Characters a person cannot type into a field: C0 and C1 controls (NUL, ESC, ...) and lone
# surrogates. Multi-line text keeps its line breaks and tabs.
_ALLOWED_IN_LONG_TEXT = frozenset("\n\t")


class Invalid(ServiceError):
    """A field's value is unreadable or implausible; the message names the field."""

    def __init__(self, name: str, message: Any):
        super().__init__(message)
        self.name = name


class IdConverter(IntegerConverter):
    """`<int:...>` in a path: a record id, so within the database's integer (a larger one is a
    404 like any id that names nothing, never an overflow)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def form() -> "Fields":
    """The posted form's fields."""
    return Fields(request.form)


def query() -> "Fields":
    """The query string's fields."""
    return Fields(request.args)


class Fields:
    """Typed reading of one mapping of named values: a form, a query string (both MultiDicts of
    text) or a JSON object (values of any JSON type).

    Every method takes the field's `name` and its `label` as shown to the user (a lazy string),
    returns None for an absent or empty optional field, and raises Invalid otherwise.
    """

    def __init__(self, source: Mapping[str, Any] | None, where: Any = None):
        self.source: Mapping[str, Any] = source if source is not None else {}
        self.where = where  # a prefix for messages ("Item 3: ...") when the source is nested

    # --- raw access ---------------------------------------------------------------------------

    def _raw(self, name: str) -> Any:
        if has_request_context():  # which fields each route reads (the hostile-input test)
            g.setdefault("fields_read", set()).add(name)
        return self.source.get(name)

    def has(self, name: str) -> bool:
        return self._raw(name) not in (None, "")

    def refuse(self, name: str, message: Any) -> Invalid:
        if self.where is not None:
            message = _l("%(where)s: %(message)s", where=self.where, message=message)
        return Invalid(name, message)

    def _blank(self, name: str, label: Any, value: Any, required: bool) -> bool:
        """True when the field is absent or empty (refused if `required`)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.refuse(name, _l("%(field)s is required.", field=label))
            return True
        return False

    def _scalar_text(self, name: str, label: Any, value: Any) -> str:
        """A JSON number or a typed string, as text to parse; anything else is refused."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.refuse(name, _l("%(field)s must be a single value.", field=label))
        text = str(value)
        if len(text) > NUMBER_TEXT_MAX or not text.isprintable():
            raise self.refuse(name, _l("%(field)s is not a number.", field=label))
        return text.strip()

    # --- numbers ------------------------------------------------------------------------------

    def integer(
        self,
        name: str,
        label: Any,
        *,
        low: int,
        high: int,
        required: bool = False,
        default: int | None = None,
    ) -> int | None:
        """A whole number in [low, high]."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = self._scalar_text(name, label, value)
        digits = text[1:] if text[:1] in "+-" else text
        if not (digits.isascii() and digits.isdigit()) or not low <= int(text) <= high:
            raise self.refuse(
                name,
                _l(
                    "%(field)s must be a whole number from %(low)s to %(high)s.",
                    field=label,
                    low=low,
                    high=high,
                ),
            )
        return int(text)

    def id(self, name: str, label: Any, *, required: bool = False) -> int | None:
        """The id of a record (whether it exists, and may be seen, is for the caller)."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return None
        try:
            return self.integer(name, label, low=1, high=MAX_ID, required=required)
        except Invalid:
            raise self.refuse(name, _l("%(field)s does not name a record.", field=label)) from None

    def ids(self, name: str, label: Any, *, limit: int = 1000) -> list[int]:
        """Several record ids sent under one name (checkboxes, a multiple select)."""
        values = self._many(name)
        if len(values) > limit:
            raise self.refuse(name, _l("%(field)s: too many chosen.", field=label))
        out = []
        for value in values:
            found = Fields({name: value}, self.where).id(name, label)
            if found is not None and found not in out:
                out.append(found)
        return out

    def _many(self, name: str) -> list[Any]:
        self._raw(name)
        if isinstance(self.source, MultiDict):
            return self.source.getlist(name)
        value = self.source.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def number(
        self,
        name: str,
        label: Any,
        *,
        low: float,
        high: float,
        required: bool = False,
    ) -> float | None:
        """A finite decimal number in [low, high] (a decimal comma is accepted)."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return None
        text = self._scalar_text(name, label, value).replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low <= number <= high):
            raise self.refuse(
                name,
                _l(
                    "%(field)s must be a number from %(low)s to %(high)s.",
                    field=label,
                    low=_plain(low),
                    high=_plain(high),
                ),
            )
        return number

    def latitude(self, name: str, label: Any, *, required: bool = False) -> float | None:
        """Decimal degrees (WGS-84) north, -90 to 90."""
        return self.number(name, label, low=-90, high=90, required=required)

    def longitude(self, name: str, label: Any, *, required: bool = False) -> float | None:
        """Decimal degrees (WGS-84) east, -180 to 180."""
        return self.number(name, label, low=-180, high=180, required=required)

    # --- days and times -----------------------------------------------------------------------

    def day(
        self,
        name: str,
        label: Any,
        *,
        required: bool = False,
        default: date | None = None,
        earliest: date = EARLIEST_DAY,
        latest: date = LATEST_DAY,
    ) -> date | None:
        """A date typed as YYYY-MM-DD, within [earliest, latest]."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return default
        try:
            if not isinstance(value, str) or len(value.strip()) != 10 or not value.isprintable():
                raise ValueError
            found = date.fromisoformat(value.strip())
        except ValueError:
            raise self.refuse(
                name, _l("%(field)s must be a date written as YYYY-MM-DD.", field=label)
            ) from None
        if not earliest <= found <= latest:
            raise self.refuse(name, _outside(label, earliest, latest))
        return found

    def past_day(
        self, name: str, label: Any, *, required: bool = False, default: date | None = None
    ) -> date | None:
        """A day something happened: not after today."""
        return self.day(name, label, required=required, default=default, latest=local_today())

    def month(
        self,
        name: str,
        label: Any,
        *,
        earliest: date = EARLIEST_DAY,
        latest: date = LATEST_DAY,
    ) -> date | None:
        """A month typed as YYYY-MM: its first day."""
        value = self._raw(name)
        if self._blank(name, label, value, False):
            return None
        try:
            if not isinstance(value, str) or len(value.strip()) != 7 or not value.isprintable():
                raise ValueError
            first = date.fromisoformat(value.strip() + "-01")
        except ValueError:
            raise self.refuse(
                name, _l("%(field)s must be a month written as YYYY-MM.", field=label)
            ) from None
        if not earliest.replace(day=1) <= first <= latest:
            raise self.refuse(name, _outside(label, earliest, latest))
        return first

    def moment(
        self,
        name: str,
        label: Any,
        *,
        required: bool = False,
        earliest: date = EARLIEST_DAY,
        ahead: timedelta = timedelta(days=2),
    ) -> datetime | None:
        """An ISO 8601 date and time, aware or naive as sent, between `earliest` and a little
        after today (clocks differ)."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return None
        try:
            if not isinstance(value, str) or len(value) > 40 or not value.isprintable():
                raise ValueError
            found = datetime.fromisoformat(value.strip())
            latest = local_today() + ahead
            if not earliest <= found.date() <= latest:
                raise self.refuse(name, _outside(label, earliest, latest))
            if found.tzinfo is not None:
                found.timestamp()  # an offset that pushes it past year 1 or 9999 raises here
        except (ValueError, OverflowError):
            raise self.refuse(
                name, _l("%(field)s must be a date and time (ISO 8601).", field=label)
            ) from None
        return found

    # --- text and choices ---------------------------------------------------------------------

    def text(
        self,
        name: str,
        label: Any,
        *,
        required: bool = False,
        max_length: int | None = None,
        multiline: bool = False,
    ) -> str:
        """Text as typed, trimmed; '' when absent. Single-line unless `multiline`."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return ""
        if not isinstance(value, str):
            raise self.refuse(name, _l("%(field)s must be text.", field=label))
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        limit = max_length or (LONG_TEXT_MAX if multiline else TEXT_MAX)
        if len(text) > limit:
            raise self.refuse(
                name,
                _l(
                    "%(field)s is too long: at most %(max)s characters (this is %(length)s).",
                    field=label,
                    max=limit,
                    length=len(text),
                ),
            )
        if not multiline and "\n" in text:
            raise self.refuse(name, _l("%(field)s must be a single line.", field=label))
        if _unprintable(text, allow=_ALLOWED_IN_LONG_TEXT if multiline else frozenset()):
            raise self.refuse(
                name, _l("%(field)s contains control characters that cannot be kept.", field=label)
            )
        return unicodedata.normalize("NFC", text)

    def optional_text(self, name: str, label: Any, **kwargs: Any) -> str | None:
        """Like text(), None when empty."""
        return self.text(name, label, **kwargs) or None

    def choice(
        self,
        name: str,
        label: Any,
        choices: Collection[str],
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        """One of `choices`, exactly."""
        value = self._raw(name)
        if self._blank(name, label, value, required):
            return default
        if not isinstance(value, str) or value.strip() not in choices:
            raise self.refuse(name, _l("%(field)s is not one of the choices.", field=label))
        return value.strip()

    def flag(self, name: str) -> bool:
        """A checkbox: ticked when sent as 1, on, true or yes."""
        value = self._raw(name)
        if isinstance(value, bool):
            return value
        return isinstance(value, str) and value.strip().lower() in ("1", "on", "true", "yes")

    def choice_of(
        self, name: str, label: Any, mapping: Mapping[str, Any], *, default: Any = None
    ) -> Any:
        """The value `mapping` gives the chosen key (a select of coded options)."""
        key = self.choice(name, label, mapping.keys())
        return default if key is None else mapping[key]

    def object(self, name: str, label: Any) -> "Fields":
        """A nested JSON object, read in turn."""
        value = self._raw(name)
        if value is None:
            return Fields({}, self.where)
        if not isinstance(value, dict):
            raise self.refuse(name, _l("%(field)s must be an object.", field=label))
        return Fields(value, self.where)


def _unprintable(text: str, *, allow: frozenset[str]) -> bool:
    return any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in allow
        for ch in text
        if not ch.isprintable()
    )


def _plain(number: float) -> str:
    return f"{number:g}"


def _outside(label: Any, earliest: date, latest: date) -> Any:
    return _l(
        "%(field)s must be between %(first)s and %(last)s.",
        field=label,
        first=earliest.isoformat(),
        last=latest.isoformat(),
    )


def read_position(data: dict, field: object = "") -> tuple[float, float, float | None] | None:
    """(lon, lat, accuracy) from a phone's JSON (an item's data), or None when it has no fix;
    refuse nonsense. An accuracy that is not a plausible radius is dropped, not refused.
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
