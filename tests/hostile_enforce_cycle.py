"""tests/test_hostile.py entries for enforce's cycle pages (via tests/hostile_enforce.py).

Months: the minutes are posted for the month before last (nothing recorded there); the
handover list is made for last month, whose minutes `records` writes first."""

from datetime import date, timedelta

from enforce.exceed import cycle_services
from grid.time import local_today


def _months_ago(n: int) -> date:
    first = local_today().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def _month(n: int) -> str:
    return f"{_months_ago(n):%Y-%m}"


def routes(Route, F) -> dict:
    month = F("month", "Month")
    note = F("long_text", "Note")
    return {
        ("GET", "enforce.cycle"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/cycle",
            lambda c: {"month": _month(1)},
            {"month": F("month", "Month", "query")},
        ),
        ("GET", "enforce.cycle_document"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/cycle/notice.xlsx",
            lambda c: {"month": _month(1)},
            {"month": F("month", "Month", "query")},
        ),
        ("POST", "enforce.cycle_report"): Route(
            "POST",
            "county_office",
            lambda c: f"/enforce/cycle/counties/{c.world.county.id}/report",
            lambda c: {"month": _month(1), "note": "已全部核实\n附现场照片"},
            {"month": month, "note": note},
        ),
        ("POST", "enforce.cycle_step"): Route(
            "POST",
            "zhou",
            lambda c: "/enforce/cycle/steps",
            lambda c: {"month": _month(1), "step": "detachment_stats", "note": "统计表\n已反馈"},
            {"month": month, "step": F("choice", "Step"), "note": note},
        ),
        ("POST", "enforce.cycle_minutes"): Route(
            "POST",
            "zhou",
            lambda c: "/enforce/cycle/minutes",
            lambda c: {
                "month": _month(2),
                "summary": "超标18小时\n立案3件",
                "county_cases": "昌吉市2件",
                "conclusions": "对未立案企业移交线索",
                "escalations": "",
                "accountability": "某县逾期",
                "escalated": "",
                "difficult": "",
            },
            {
                "month": month,
                "summary": F("long_text", "Monthly summary"),
                "county_cases": F("long_text", "Counties' cases"),
                "conclusions": F("long_text", "Conclusions"),
                "escalations": F("long_text", "Escalation opinions"),
                "accountability": F("long_text", "Accountability leads"),
                "escalated": F("id", "Escalated"),
                "difficult": F("id", "Difficult"),
            },
        ),
        ("POST", "enforce.cycle_handover"): Route(
            "POST",
            "zhou",
            lambda c: "/enforce/cycle/handover",
            lambda c: {"month": _month(1)},
            {"month": month},
        ),
    }


def records(world) -> dict:
    """Last month's review meeting, so that its handover list can be made."""
    minutes = cycle_services.record_minutes(
        _months_ago(1),
        cycle_services.MinutesFields("上月汇总", "会审结论"),
        by=None,
        today=local_today(),
    )
    return {"cycle_minutes": minutes.id}
