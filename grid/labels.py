"""The words for the grid's codes, in the user's language."""

from flask_babel import lazy_gettext as _l

from grid.staffing import Finding

ROLE = {
    "supervisor": _l("Grid supervisor"),
    "head": _l("Grid head"),
    "subhead": _l("Sub-grid head"),
    "office": _l("Grid office staff"),
    "admin": _l("Administrator"),
}

KIND = {
    "prefecture": _l("Prefecture (level 1)"),
    "county": _l("County or city (level 2)"),
    "park": _l("Park (level 2)"),
    "township": _l("Township or street (level 3)"),
    "village": _l("Village or community (level 4)"),
    "key": _l("Key grid around a station"),
}

LEVEL = {1: _l("Level 1"), 2: _l("Level 2"), 3: _l("Level 3"), 4: _l("Level 4")}

GEOM_SOURCE = {
    "official": _l("official boundary"),
    "imported": _l("imported public boundary"),
    "synthetic": _l("synthetic boundary (demo)"),
    None: _l("no boundary yet"),
}

SEVERITY = {"warning": _l("Warning"), "notice": _l("Notice")}

_FINDING = {
    "heads_short": _l("Grid heads: %(have)s of %(need)s (double grid heads, 双网格长)."),
    "township_full_time_short": _l(
        "Full-time supervisors: %(have)s, at least %(need)s required for a township."
    ),
    "township_supervisors_above_range": _l(
        "%(have)s supervisors: the rules set 3 to %(need)s for a township."
    ),
    "village_supervisors_short": _l(
        "Supervisors: %(have)s, at least %(need)s required for a village."
    ),
    "village_full_time_missing": _l("No full-time supervisor: at least one is required."),
    "children_uncovered": _l(
        "Sub-grid heads cover %(have)s of %(need)s child grids; every child must be covered."
    ),
    "subhead_covers_many": _l(
        "A sub-grid head covers %(have)s townships; the rules say 1 to %(need)s."
    ),
}


def finding_text(finding: Finding) -> str:
    template = _FINDING.get(finding.code)
    if template is None:
        return finding.code
    return str(template) % {"have": finding.have, "need": finding.need}


def employment(full_time: bool | None) -> str:
    if full_time is None:
        return ""
    return str(_l("full-time") if full_time else _l("part-time"))


def register(app) -> None:
    app.jinja_env.filters.update(
        role_label=lambda r: ROLE.get(r, r),
        kind_label=lambda k: KIND.get(k, k),
        level_label=lambda n: LEVEL.get(n, n),
        source_label=lambda s: GEOM_SOURCE.get(s, s),
        severity_label=lambda s: SEVERITY.get(s, s),
        finding_text=finding_text,
        employment=employment,
        pick=lambda ids, table: [table.get(i, i) for i in ids],
    )
