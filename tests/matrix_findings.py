"""Access-matrix entries for upper-level findings (problems/views.py), merged into
tests/test_access_matrix.py's ROUTES:

    from tests.matrix_findings import finding_routes
    ROUTES.update(finding_routes(Route, sees))

A function rather than a table, so that this module need not import test_access_matrix (which
imports it). Targets are built from the `world` fixture's grids: "F_C" / "F_OTHER_C" are a
finding in the county C (昌吉市) or OTHER_C (木垒), made when the URL is asked for.

Policy (RULES §5 item 4; DESIGN: the prefecture office records upper-level findings): office
staff and heads of the level-1 grid record and decide; whoever sees a county sees its findings;
administrators manage people, so they see findings but neither record nor decide them; village
and township posts have no findings list (findings concern counties).
"""

from datetime import date

from extensions import db
from problems.models import UpperFinding

DECIDERS = {"zhou"}  # office or head posts in the level-1 grid
FINDINGS = ["F_C", "F_OTHER_C"]
COUNTIES = ["C", "OTHER_C"]


def _county_key(target: str) -> str:
    return target.split("_", 1)[1]  # "F_OTHER_C" -> "OTHER_C"


def _finding(w, target: str) -> int:
    finding = UpperFinding(
        county_id=w.grids[_county_key(target)].id,
        found_on=date(2025, 1, 10),
        kind="inspection",
        category="dust",
        description="矩阵测试",
    )
    db.session.add(finding)
    db.session.flush()
    return finding.id


def finding_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    """One Route per `findings.*` endpoint; `Route` and `sees` come from test_access_matrix."""

    def sees_a_county(actor):
        return any(sees(actor, c) for c in COUNTIES)

    def index(actor, target):
        if actor == "anon":
            return 302
        if not sees_a_county(actor):
            return 403
        return 200 if target is None or sees(actor, target) else 403

    def new(actor, _target):
        if actor == "anon":
            return 302
        return 200 if actor in DECIDERS else 403

    def show(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, _county_key(target)) else 403

    def decide(actor, _target):
        if actor == "anon":
            return 401
        return 303 if actor in DECIDERS else 403  # 303: refused for want of a decision

    return {
        "problems.findings_index": Route(
            "GET",
            lambda w, t: "/findings/" + (f"?county={w.grids[t].id}" if t else ""),
            [None, *COUNTIES],
            index,
        ),
        "problems.findings_new": Route("GET", lambda w, t: "/findings/new", [None], new),
        "problems.findings_show": Route(
            "GET", lambda w, t: f"/findings/{_finding(w, t)}", FINDINGS, show
        ),
        "problems.findings_decide": Route(
            "POST", lambda w, t: f"/findings/{_finding(w, t)}/decide", FINDINGS, decide
        ),
    }
