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

FACTS = {
    "grid_established": N_("Item 1: the county's grid, its heads and office"),
    "sub_heads_full_coverage": N_("Item 2: sub-grid heads cover every township and village"),
    "disclosure_published": N_("Item 3: heads and complaint channels published"),
    "missed_problems": N_("Item 4: problems found above and missed"),
    "unassigned_reports": N_("Item 5: reports not assigned in time"),
    "poor_rectifications": N_("Item 6: poor or false rectifications"),
    "overdue_inspection_items": N_("Item 7: inspection items overdue"),
}
APPEAL_ITEMS = {
    "item4": N_("Item 4: problems found above and missed"),
    "item5": N_("Item 5: reports not assigned in time"),
    "item6": N_("Item 6: poor or false rectifications"),
    "item7": N_("Item 7: inspection items overdue"),
    "media": N_("Media exposure"),
    "fail": N_("The month failed outright"),
}
MONTH_EVENTS = {
    "record": N_("Recorded"),
    "withdraw": N_("Withdrawn"),
    "rectify": N_("Rectification recorded"),
    "correct": N_("Fact corrected"),
    "freeze": N_("Month frozen"),
    "revise": N_("New version"),
    "appeal": N_("Appeal filed"),
    "decide": N_("Appeal answered"),
}

TAMPER_KINDS = {  # RULES §6: how a station's data was falsified
    "moved": N_("Station moved"),
    "filter": N_("Filters added"),
    "power": N_("Power or network cut"),
    "settings": N_("Instrument settings changed"),
}


def register(app) -> None:
    app.jinja_env.filters.update(
        assess_record_label=label(RECORD_KINDS),
        assess_appeal_label=label(APPEAL_STATUSES),
        assess_fact_label=label(FACTS),
        assess_item_label=label(APPEAL_ITEMS),
        assess_event_label=label(MONTH_EVENTS),
        assess_tamper_label=label(TAMPER_KINDS),
    )
