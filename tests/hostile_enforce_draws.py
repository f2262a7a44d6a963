"""tests/test_hostile.py's entries for enforce/draws (merged through tests/hostile_enforce.py).

The records: two inspectors of the county (the first to edit, recuse and deactivate), a key
polluter and two general units in its ledger (a recusal's source, the baseline draw's targets),
and a draw of last month (its page)."""

from datetime import timedelta

from enforce.draws import services
from extensions import db
from grid.models import User
from grid.time import local_today
from tests import factories


def _this_month() -> str:
    return f"{local_today():%Y-%m}"


def routes(Route, F) -> dict:  # noqa: N803 - the class passed in
    def inspector(suffix=""):
        return lambda c: f"/enforce/inspectors/{c.ids['draws_inspector']}{suffix}"

    def draw(suffix=""):
        return lambda c: f"/enforce/draws/{c.ids['draws_draw']}{suffix}"

    details = {
        "name": F("text", "Name"),
        "certificate_no": F("text", "Certificate number"),
        "unit": F("text", "Unit"),
        "login": F("text", "Account"),
    }
    quarter = {
        "office": F("id", "Office", "query"),
        "year": F("int", "Year", "query"),
        "quarter": F("int", "Quarter", "query"),
    }
    asked = {
        "key": F("int", "Key polluters"),
        "special": F("int", "Special supervision"),
        "general": F("int", "General units"),
        "facility": F("int", "Monitoring facilities"),
        "seed": F("int", "Seed"),
    }
    return {
        ("GET", "enforce.inspectors"): Route(
            "GET", "county_office", lambda c: "/enforce/inspectors"
        ),
        ("POST", "enforce.inspector_create"): Route(
            "POST",
            "county_office",
            lambda c: "/enforce/inspectors",
            lambda c: {
                "office": str(c.world.county.id),
                "name": "新执法员",
                "certificate_no": f"HOSTILE-NEW-{c.world.county.id}",
                "unit": "分局",
                "login": "",
            },
            {"office": F("id", "Office"), **details},
        ),
        ("GET", "enforce.inspector"): Route("GET", "county_office", inspector()),
        ("POST", "enforce.inspector_update"): Route(
            "POST",
            "county_office",
            inspector(),
            lambda c: {
                "name": "改名执法员",
                "certificate_no": f"HOSTILE-{c.world.county.id}-0",
                "unit": "分局",
                "login": db.session.get(User, c.ids["draws_account"]).username,
            },
            details,
        ),
        ("POST", "enforce.inspector_active"): Route(
            "POST",
            "county_office",
            inspector("/active"),
            lambda c: {"active": "no"},
            {"active": F("choice", "Active")},
        ),
        ("POST", "enforce.conflict_create"): Route(
            "POST",
            "county_office",
            inspector("/conflicts"),
            lambda c: {"source": str(c.ids["draws_source"]), "reason": "亲属在该企业任职"},
            {"source": F("id", "Source"), "reason": F("text", "Reason")},
        ),
        ("GET", "enforce.draws"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/draws",
            lambda c: {"office": str(c.world.county.id), "month": _this_month()},
            {"office": F("id", "Office", "query"), "month": F("month", "Month", "query")},
        ),
        ("POST", "enforce.draw_create"): Route(
            "POST",
            "county_office",
            lambda c: "/enforce/draws",
            lambda c: {
                "office": str(c.world.county.id),
                "month": _this_month(),
                "general": "2",
                "seed": "7",
                "note": "月度抽查",
            },
            {
                "office": F("id", "Office"),
                "month": F("month", "Month"),
                **asked,
                "note": F("text", "Note"),
            },
        ),
        ("GET", "enforce.draw"): Route("GET", "county_office", draw()),
        ("GET", "enforce.draw_verify"): Route("GET", "county_office", draw("/verify")),
        ("GET", "enforce.draw_stats"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/draws/stats",
            lambda c: {"office": str(c.world.county.id), "year": "2026", "quarter": "4"},
            quarter,
        ),
        ("GET", "enforce.draw_stats_xlsx"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/draws/stats.xlsx",
            lambda c: {"office": str(c.world.county.id), "year": "2026", "quarter": "4"},
            quarter,
        ),
    }


def records(world) -> dict:
    county, office = world.county, world.county_office
    people = [
        services.add_inspector(
            county, f"对抗执法员{n}", f"HOSTILE-{county.id}-{n}", "分局", by=office
        )
        for n in range(2)
    ]
    key = factories.make_source(world, key_polluter=True)
    for _ in range(2):
        factories.make_source(world)
    last = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    item = services.make_draw(county, last, {"key": 1}, by=office, seed=1)
    account = factories.person("draws-inspector")  # an account no inspector signs in with
    return {
        "draws_inspector": people[0].id,
        "draws_source": key.id,
        "draws_draw": item.id,
        "draws_account": account.id,
    }
