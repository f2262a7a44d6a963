"""The words for the assessment's codes, in the user's language."""

from i18n import N_
from i18n.language import label

RECORD_KINDS = {
    "inspection": N_("Inspection item"),
    "bonus": N_("Major discovery (bonus)"),
    "auto_fail": N_("Automatic fail"),
}
APPEAL_STATUSES = {
    "pending": N_("Waiting for an answer"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
}


def register(app) -> None:
    app.jinja_env.filters.update(
        assess_record_label=label(RECORD_KINDS),
        assess_appeal_label=label(APPEAL_STATUSES),
    )
