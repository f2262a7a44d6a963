"""tests/test_hostile.py's entries for enforce/cases (merged through tests/hostile_enforce.py).

The records: a draft of the county's long enough to submit (with a phone number replaced, to
undo), one submitted (for the county office's review), one reviewed by someone else (for the
prefecture office's approval) and one published; none prepared by the people who post."""

from enforce.cases import services
from problems.escalation import State
from tests import factories

TEXT = "宏达公司联系人手机13899887766。" + "执法人员现场检查发现该企业料场物料未全部苫盖。" * 45


def routes(Route, F) -> dict:  # noqa: N803 - the class passed in
    def case(key, suffix=""):
        return lambda c: f"/enforce/cases/{c.ids[key]}{suffix}"

    decision = {"decision": F("choice", "Decision"), "comment": F("long_text", "Comment")}
    text = {"title": F("text", "Title"), "original": F("long_text", "Case text")}
    return {
        ("GET", "enforce.cases"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/cases/",
            lambda c: {"page": "1"},
            {"page": F("int", "Page", "query")},
        ),
        ("GET", "enforce.case_new"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/cases/new",
            lambda c: {"problem": str(c.ids["case_problem"])},
            {"problem": F("id", "Problem", "query")},
        ),
        ("POST", "enforce.case_create"): Route(
            "POST",
            "county_office",
            lambda c: "/enforce/cases/new",
            lambda c: {"county": str(c.world.county.id), "title": "扬尘案", "original": TEXT},
            {"county": F("id", "County"), "problem": F("id", "Problem"), **text},
        ),
        ("GET", "enforce.case"): Route("GET", "county_office", case("case_draft")),
        ("POST", "enforce.case_edit"): Route(
            "POST",
            "county_office",
            case("case_draft", "/edit"),
            lambda c: {"title": "扬尘案", "original": TEXT + "补充。"},
            text,
        ),
        ("POST", "enforce.case_phrase"): Route(
            "POST",
            "county_office",
            case("case_draft", "/phrases"),
            lambda c: {"phrase": "宏达公司", "replacement": "某公司"},
            {"phrase": F("text", "Word or phrase"), "replacement": F("text", "Replaced by")},
        ),
        ("POST", "enforce.case_keep"): Route(
            "POST",
            "county_office",
            case("case_draft", "/keep"),
            lambda c: {"phrase": "13899887766", "do": "keep"},
            {"phrase": F("text", "Word or phrase"), "do": F("choice", "Replacement")},
        ),
        ("POST", "enforce.case_submit"): Route(
            "POST",
            "county_office",
            case("case_draft", "/submit"),
            lambda c: {"comment": "请审核"},
            {"comment": F("long_text", "Comment")},
        ),
        ("POST", "enforce.case_review"): Route(
            "POST",
            "county_office",
            case("case_submitted", "/review"),
            lambda c: {"decision": "pass", "comment": "同意"},
            decision,
        ),
        ("POST", "enforce.case_approve"): Route(
            "POST",
            "zhou",
            case("case_reviewed", "/approve"),
            lambda c: {"decision": "pass", "comment": "同意发布"},
            decision,
        ),
        ("GET", "enforce.public_cases"): Route(
            "GET",
            None,
            lambda c: "/enforce/public/cases",
            lambda c: {"page": "1"},
            {"page": F("int", "Page", "query")},
        ),
        ("GET", "enforce.public_case"): Route("GET", None, case("case_published")),
    }


def records(world) -> dict:
    county = world.county.id
    draft = services.prepare(county, None, "扬尘案", TEXT, by=None)
    submitted = services.submit(services.prepare(county, None, "扬尘案", TEXT, by=None), None, None)
    reviewer = factories.person("case-reviewer")
    reviewed = services.review(
        services.submit(services.prepare(county, None, "扬尘案", TEXT, by=None), None, None),
        True,
        None,
        reviewer,
    )
    published = services.review(
        services.submit(services.prepare(county, None, "扬尘案", TEXT, by=None), None, None),
        True,
        None,
        reviewer,
    )
    services.approve(published, True, None, factories.person("case-approver"))
    problem = factories.make_problem(world, State.RESOLVED)
    return {
        "case_draft": draft.id,
        "case_submitted": submitted.id,
        "case_reviewed": reviewed.id,
        "case_published": published.id,
        "case_problem": problem.id,
    }
