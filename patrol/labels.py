"""The words for the patrol's codes (categories, severities, photo flags), in the user's
language, and local times."""

from datetime import UTC, datetime

from desk.language import gettext
from grid.services import local_zone
from patrol import catalog


def N_(msgid: str) -> str:  # noqa: N802 - the extraction marker
    return msgid


FLAGS = {
    "no_location": N_("no location"),
    "outside_grid": N_("outside the grid"),
    "poor_accuracy": N_("poor location accuracy"),
    "time_mismatch": N_("photo time differs"),
    "exif_far_from_fix": N_("photo position far from the phone's"),
    "duplicate": N_("same photo used before"),
    "clock_skewed": N_("phone clock off"),
    "watermark_font_missing": N_("watermark without Chinese font"),
}
_CATEGORY = {c.code: c.label for c in catalog.CATEGORIES}


def datetime_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time in the configured zone."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(local_zone()).strftime(fmt)


def register(app) -> None:
    app.jinja_env.filters.update(
        datetime_local=datetime_local,
        flag_label=lambda code: gettext(FLAGS[code]) if code in FLAGS else code,
        category_label=lambda code: gettext(_CATEGORY[code]) if code in _CATEGORY else code,
        severity_text=lambda code: gettext(catalog.SEVERITIES.get(code, code)),
    )
