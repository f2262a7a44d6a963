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

STATES = {
    "submitted": N_("Complaint to confirm"),
    "village": N_("At the village"),
    "returned": N_("Sent back to the village"),
    "township": N_("Waiting for the township"),
    "county": N_("Waiting for the county to assign"),
    "prefecture": N_("Referred to the prefecture"),
    "rectifying": N_("Being rectified"),
    "rechecking": N_("Waiting for re-check"),
    "resolved": N_("Resolved"),
    "closed": N_("Rectified and closed"),
    "dismissed": N_("Dismissed"),
}
EVENTS = {  # what the buttons and the timeline say
    "report": N_("Reported"),
    "confirm": N_("Confirm the complaint"),
    "dismiss": N_("Dismiss the complaint"),
    "resolve": N_("Resolve here"),
    "escalate": N_("Send up to the township"),
    "send_back": N_("Send back to the village"),
    "approve": N_("Approve: send up to the county"),
    "assign": N_("Assign for rectification (交办)"),
    "joint": N_("Joint enforcement"),
    "refer": N_("Refer to the prefecture"),
    "submit": N_("Submit the rectification"),
    "recheck_pass": N_("Re-check: passed"),
    "recheck_fail": N_("Re-check: not passed"),
    "comment": N_("Comment"),
    "supervise": N_("Order supervision (督办)"),
    "deadline_missed": N_("Deadline missed"),
}
CAPACITIES = {
    "village": N_("village"),
    "township": N_("township"),
    "county": N_("county"),
    "prefecture": N_("prefecture"),
    "assignee": N_("assignee"),
    "reporter": N_("reporter"),
}
ORIGINS = {
    "patrol": N_("patrol"),
    "complaint": N_("public complaint"),
    "office": N_("office"),
    "alert": N_("alert"),
}


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
        state_label=lambda code: gettext(STATES.get(code, code)),
        event_label=lambda code: gettext(EVENTS.get(code, code)),
        capacity_label=lambda code: gettext(CAPACITIES.get(code, code)) if code else "",
        origin_label=lambda code: gettext(ORIGINS.get(code, code)),
    )
