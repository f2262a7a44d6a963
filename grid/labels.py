"""The words for the grid's codes, in the user's language.

The tables hold English msgids, marked with N_ for extraction; they are translated when shown,
through the request's catalogue (i18n.language), which every page shows dozens of times.
"""

from grid.staffing import Finding
from grid.time import datetime_local
from i18n import N_
from i18n.language import gettext

ROLE = {
    "supervisor": N_("Grid supervisor"),
    "head": N_("Grid head"),
    "subhead": N_("Sub-grid head"),
    "office": N_("Grid office staff"),
    "admin": N_("Administrator"),
}

KIND = {
    "prefecture": N_("Prefecture (level 1)"),
    "county": N_("County or city (level 2)"),
    "park": N_("Park (level 2)"),
    "township": N_("Township or street (level 3)"),
    "village": N_("Village or community (level 4)"),
    "key": N_("Key grid around a station"),
}

LEVEL = {1: N_("Level 1"), 2: N_("Level 2"), 3: N_("Level 3"), 4: N_("Level 4")}

GEOM_SOURCE = {
    "official": N_("official boundary"),
    "imported": N_("imported public boundary"),
    "synthetic": N_("synthetic boundary (demo)"),
    None: N_("no boundary yet"),
}

SEVERITY = {"warning": N_("Warning"), "notice": N_("Notice")}

_FINDING = {
    "heads_short": N_("Grid heads: %(have)s of %(need)s (double grid heads, 双网格长)."),
    "township_full_time_short": N_(
        "Full-time supervisors: %(have)s, at least %(need)s required for a township."
    ),
    "township_supervisors_above_range": N_(
        "%(have)s supervisors: the rules set 3 to %(need)s for a township."
    ),
    "village_supervisors_short": N_(
        "Supervisors: %(have)s, at least %(need)s required for a village."
    ),
    "village_full_time_missing": N_("No full-time supervisor: at least one is required."),
    "children_uncovered": N_(
        "Sub-grid heads cover %(have)s of %(need)s child grids; every child must be covered."
    ),
    "subhead_covers_many": N_(
        "A sub-grid head covers %(have)s townships; the rules say 1 to %(need)s."
    ),
}


def finding_text(finding: Finding) -> str:
    template = _FINDING.get(finding.code)
    if template is None:
        return finding.code
    return gettext(template) % {"have": finding.have, "need": finding.need}


def employment(full_time: bool | None) -> str:
    if full_time is None:
        return ""
    return gettext(N_("full-time") if full_time else N_("part-time"))


def _label(table: dict):
    return lambda key: gettext(table[key]) if key in table else key


def register(app) -> None:
    app.jinja_env.filters.update(
        role_label=_label(ROLE),
        kind_label=_label(KIND),
        level_label=_label(LEVEL),
        source_label=_label(GEOM_SOURCE),
        severity_label=_label(SEVERITY),
        finding_text=finding_text,
        employment=employment,
        pick=lambda ids, table: [table.get(i, i) for i in ids],
        datetime_local=datetime_local,
    )
