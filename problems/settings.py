"""The workflow's settings as configured: its deadlines and who re-checks a rectification."""

from flask import current_app

from problems import escalation

_DEADLINES = escalation.Deadlines()  # the defaults live with the rules

DEFAULTS = {
    # The problem workflow (problems/escalation.py): deadlines and who re-checks.
    "DEADLINE_TOWNSHIP_HOURS": _DEADLINES.township_hours,  # 24
    "DEADLINE_COUNTY_WORKING_DAYS": _DEADLINES.county_working_days,  # 1
    "DEADLINE_PREFECTURE_WORKING_DAYS": _DEADLINES.prefecture_working_days,  # 1
    "DEADLINE_RECHECK_WORKING_DAYS": _DEADLINES.recheck_working_days,  # 3
    "DEADLINE_CONFIRM_HOURS": _DEADLINES.confirm_hours,  # 48
    "RECHECK_BY": escalation.RecheckBy.COUNTY.value,  # county | reporter
    "COMPLAINT_LIMIT": "5 per hour; 20 per day",  # public complaints per address
    # Upper-level findings: reports this near, and found this many days before, may be the same.
    "FINDING_MATCH_DISTANCE_M": 1000,
    "FINDING_MATCH_DAYS": 30,
}


def deadlines() -> escalation.Deadlines:
    config = current_app.config
    return escalation.Deadlines(
        township_hours=config["DEADLINE_TOWNSHIP_HOURS"],
        county_working_days=config["DEADLINE_COUNTY_WORKING_DAYS"],
        prefecture_working_days=config["DEADLINE_PREFECTURE_WORKING_DAYS"],
        recheck_working_days=config["DEADLINE_RECHECK_WORKING_DAYS"],
        confirm_hours=config["DEADLINE_CONFIRM_HOURS"],
    )


def recheck_by() -> escalation.RecheckBy:
    return escalation.RecheckBy(current_app.config["RECHECK_BY"])


def match_settings() -> tuple[float, int]:
    """(distance in metres, days before) within which a report may be an upper-level finding's
    problem (FINDING_MATCH_DISTANCE_M, FINDING_MATCH_DAYS)."""
    config = current_app.config
    return float(config["FINDING_MATCH_DISTANCE_M"]), int(config["FINDING_MATCH_DAYS"])
