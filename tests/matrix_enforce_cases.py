"""Access-matrix entries for enforce/cases (merged through tests/matrix_enforce.py).

Policy: the office's pages and posts are for the prefecture office ("zhou", every case) and a
county's office or head ("changji", the cases of its own county C, not OTHER_C's); anyone else
signed in is refused (403). Approval is the prefecture office's only. Empty posts by those
allowed are refused for the missing fields (400); an empty submit of a short draft is refused
by the rule and answered 303 with the reason. The public pages need no sign-in: the list for
everyone, a published case ("PUB") for everyone, a draft ("DRAFT") for no one (404)."""

from enforce.cases import services

OFFICES = {"zhou", "changji"}
LONG = "执法人员现场检查发现该企业料场物料未全部苫盖。" * 50  # 1,150 characters


def _case(w, target) -> int:
    return services.prepare(w.grids[target].id, None, "矩阵测试案例", "矩阵测试", by=None).id


def _public(w, target) -> int:
    case = services.prepare(w.grids["C"].id, None, "矩阵测试案例", LONG, by=None)
    if target == "PUB":
        services.submit(case, None, by=None)
        services.review(case, True, None, w.users["changji"])
        services.approve(case, True, None, w.users["zhou"])
    return case.id


def _page(actor, _target):
    if actor == "anon":
        return 302
    return 200 if actor in OFFICES else 403


def _post(actor, _target):
    if actor == "anon":
        return 401
    return 400 if actor in OFFICES else 403


def _case_page(actor, target):
    if actor == "anon":
        return 302
    if actor == "zhou" or (actor == "changji" and target == "C"):
        return 200
    return 403


def _case_post(status):
    def expect(actor, target):
        if actor == "anon":
            return 401
        if actor == "zhou" or (actor == "changji" and target == "C"):
            return status
        return 403

    return expect


def _approve(actor, _target):
    if actor == "anon":
        return 401
    return 400 if actor == "zhou" else 403


def case_routes(Route, sees):  # noqa: N803 - the class passed in
    def at(suffix):
        return lambda w, t: f"/enforce/cases/{_case(w, t)}{suffix}"

    both = ["C", "OTHER_C"]
    return {
        "enforce.cases": Route("GET", lambda w, t: "/enforce/cases/", [None], _page),
        "enforce.case_new": Route("GET", lambda w, t: "/enforce/cases/new", [None], _page),
        "enforce.case_create": Route("POST", lambda w, t: "/enforce/cases/new", [None], _post),
        "enforce.case": Route("GET", at(""), both, _case_page),
        "enforce.case_edit": Route("POST", at("/edit"), both, _case_post(400)),
        "enforce.case_phrase": Route("POST", at("/phrases"), both, _case_post(400)),
        "enforce.case_keep": Route("POST", at("/keep"), both, _case_post(400)),
        "enforce.case_submit": Route("POST", at("/submit"), both, _case_post(303)),
        "enforce.case_review": Route("POST", at("/review"), both, _case_post(400)),
        "enforce.case_approve": Route("POST", at("/approve"), both, _approve),
        "enforce.public_cases": Route(
            "GET", lambda w, t: "/enforce/public/cases", [None], lambda a, t: 200
        ),
        "enforce.public_case": Route(
            "GET",
            lambda w, t: f"/enforce/public/cases/{_public(w, t)}",
            ["PUB", "DRAFT"],
            lambda a, t: 200 if t == "PUB" else 404,
        ),
    }
