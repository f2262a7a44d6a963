"""The monthly assessment end to end (issue 12): a county's October 2025 built through the real
services and the phone's sync API (patrols, escalations with a late assignment, a failed
re-check, missed findings, alerts answered late, the office's records), gathered, frozen from
the page, appealed from the page by the county and accepted by the prefecture office, and the
notice's workbook reopened and read, every figure against a count made by hand below."""

from datetime import date, timedelta

from alerts import dispatch, raising
from assess import appeals, facts, journal, people, services, snapshots
from assess import notice as notices
from assess.models import RecordKind
from extensions import db
from grid import audit
from grid import services as grid_services
from grid.models import Role
from problems.findings import MISSED
from tests import factories
from tests.conftest import sign_in
from tests.test_assess import finding
from tests.test_assess_gather import assigned_late, failing_rechecks
from tests.test_assess_log import post
from tests.test_assess_notice import county_line, reopen
from tests.test_assess_people import at, patrol, queued, send, source

POSTED = date(2025, 9, 1)
OCTOBER = date(2025, 10, 1)
M = "2025-10"

# The month counted by hand (RULES §5, "the project's arithmetic"):
#   items 1-3: heads, an office, sub-grid heads over the township and both villages: 30
#   item 4: 3 problems found by upper inspections and missed: 40 - 3 = 37
#   item 5: 1 report the county assigned a week late: 10 - 5 = 5
#   item 6: 1 failed re-check: 10 - 5 = 5
#   item 7: 2 inspection items overdue (one never rectified, one rectified late): 10 - 20 = -10,
#           so 0 and a spill of -10
#   bonus: 1 approved major discovery: +2
#   score: 30 + (37 + 5 + 5 + 0) - 10 + 2 = 69, 合格
# The county appeals item 5 (the late assignment was the township's holiday roster, say); the
# office accepts it with the count 0: 30 + (37 + 10 + 5 + 0) - 10 + 2 = 74, 合格, version 2.
BEFORE, AFTER = 69, 74


def october(client):
    w = factories.make_world(villages=2, started_on=POSTED)
    factories.staff_county(w, POSTED)
    # Patrols from the phone: 3 working days (9, 10 and 21 October) and Sunday the 12th.
    a, b = source(w, 0, POSTED), source(w, 0, POSTED)
    v1 = w.villages[0]
    patrol(client, w.supervisor, v1, [(a, at(9, 9)), (b, at(9, 9, 30))])
    patrol(client, w.supervisor, v1, [(a, at(10, 10))])
    patrol(client, w.supervisor, v1, [(b, at(12, 10))])
    patrol(client, w.supervisor, v1, [(a, at(21, 10)), (b, at(21, 10, 5))])
    # Alerts: one answered on site at 90 minutes (late) with the result at 110 (in time), one
    # never answered.
    answer_alerts(client, w)
    # The workflow: a late assignment, a failed re-check.
    assigned_late(w, date(2025, 10, 9))
    failing_rechecks(w, date(2025, 10, 13), 1)
    # Upper findings decided missed, and one after the month (not October's).
    for day in (10, 16, 28):
        finding(w, date(2025, 10, day), MISSED)
    finding(w, date(2025, 11, 3), MISSED)
    # The prefecture office's records: two inspection items overdue, one on time, a bonus.
    record = services.record
    record(
        w.county,
        RecordKind.INSPECTION,
        "督察交办：渣土堆场未苫盖",
        by=None,
        due_on=date(2025, 10, 20),
    )
    late = record(
        w.county, RecordKind.INSPECTION, "督察交办：燃煤锅炉", by=None, due_on=date(2025, 10, 24)
    )
    services.rectified(late, date(2025, 10, 28), by=None)
    on_time = record(
        w.county, RecordKind.INSPECTION, "督察交办：秸秆焚烧", by=None, due_on=date(2025, 10, 27)
    )
    services.rectified(on_time, date(2025, 10, 22), by=None)
    record(w.county, RecordKind.BONUS, "主动发现并处置非法倾倒", by=None, month=OCTOBER)
    db.session.flush()
    return w


def answer_alerts(client, w):
    """Two alerts dispatched to the supervisor on 15 and 16 October, answered as the module's
    docstring says (the phone's answers go through the sync API)."""
    station, _token = factories.make_station(w)
    for pollutant, day, onsite, disposal in (("PM2.5", 15, 90, 110), ("PM10", 16, None, None)):
        alert = raising.push_by_hand(station, pollutant, "核查", w.county_office)
        [sent] = dispatch.dispatch(alert, [w.supervisor.id], w.county_office, None)
        sent.instructed_at = at(day, 10)
        sent.onsite_due = sent.instructed_at + timedelta(hours=1)
        sent.disposal_due = sent.instructed_at + timedelta(hours=2)
        db.session.flush()
        if onsite is None:
            continue
        onsite_data = {"dispatch": sent.id, "note": "现场核查", "photos": 1, "accuracy": 8}
        onsite_data.update(lat=station.lat, lon=station.lon)
        send(
            client,
            w.supervisor,
            queued("alert.onsite", onsite_data, sent.instructed_at + timedelta(minutes=onsite)),
            queued(
                "alert.disposal",
                {"dispatch": sent.id, "note": "已处置"},
                sent.instructed_at + timedelta(minutes=disposal),
            ),
        )


def test_a_month_from_the_field_to_the_notice(client):
    w = october(client)
    prefecture = factories.person("e2e-prefecture-office")
    grid_services.appoint(prefecture, w.root, Role.OFFICE, POSTED)

    # Gathered: each fact as counted by hand.
    [mine] = [m for m in facts.gather(2025, 10) if m.county.id == w.county.id]
    f = mine.facts
    assert (f.grid_established, f.sub_heads_full_coverage, f.disclosure_published) == (True,) * 3
    assert (f.missed_problems, f.unassigned_reports, f.poor_rectifications) == (3, 1, 1)
    assert (f.overdue_inspection_items, f.major_discoveries, f.media_exposures) == (2, 1, [])
    a = mine.assessment
    assert (a.system, a.items[4], a.items[5], a.items[6], a.items[7]) == (30, 37, 5, 5, 0)
    assert (a.spill, a.bonus, a.score, a.grade) == (-10, 2, BEFORE, "合格")

    # The supervisor's own month: 3 patrol days of October's 18 working days (and a Sunday),
    # two alerts, one on-site answer late and one result in time.
    [me] = [p for p in people.supervisor_month(w.township, OCTOBER) if p.user_id == w.supervisor.id]
    assert (me.patrol_days, me.working_days, me.days_off_patrolled) == (3, 18, 1)
    assert (me.dispatched, me.within_1h, me.within_2h) == (2, 0, 1)

    # Frozen from the desktop by the prefecture office.
    sign_in(client, prefecture)
    assert post(client, "/assess/freeze", month=M).status_code == 303
    frozen = snapshots.latest(OCTOBER)[w.county.id]
    assert (frozen.version, frozen.result["score"]) == (1, BEFORE)

    # The county appeals item 5 from its page; the office accepts it with the count 0.
    page = f"/assess/{w.county.id}"
    sign_in(client, w.county_office)
    assert (
        post(client, f"{page}/appeals", month=M, item="item5", reason="乡镇值班表原因").status_code
        == 303
    )
    [appeal] = appeals.of_month(w.county.id, OCTOBER)
    sign_in(client, prefecture)
    answer = post(
        client,
        f"/assess/appeals/{appeal.id}/decision",
        decision="accept",
        value="0",
        answer="核实：交办延误系节假日值班安排所致",
    )
    assert answer.status_code == 303
    latest = snapshots.latest(OCTOBER)[w.county.id]
    assert (latest.version, latest.result["score"], latest.result["grade"]) == (2, AFTER, "合格")
    assert frozen.result["score"] == BEFORE  # version 1 kept as it was

    # The notice's workbook, reopened: the county's row as revised, its deductions with reasons.
    book = reopen(notices.workbook(notices.notice(OCTOBER)))
    sheet = book["考核排名"]
    line = county_line(sheet, w.county.name)
    values = [sheet.cell(line, c).value for c in range(3, 15)]
    assert values == [10, 10, 10, 37, 10, 5, 0, 2, 0, -10, AFTER, "合格"]
    assert sheet.cell(line, 16).value == "第2版"
    details = book["扣分明细"]
    mine = [
        [details.cell(r, c).value for c in range(2, 5)]
        for r in range(4, details.max_row + 1)
        if details.cell(r, 1).value == w.county.name
    ]
    assert [(item, points) for item, points, _why in mine] == [
        ("第4项", -3),
        ("第6项", -5),
        ("第7项", -10),
        ("第7项超扣", -10),
        ("加分", 2),
    ]
    assert "3 个" in mine[0][2]

    # Every step is in the month's log, and the chain verifies.
    events = [e.event for e in journal.events_of(w.county.id, OCTOBER)]
    assert events == [
        "record",
        "record",
        "rectify",
        "record",
        "rectify",
        "record",
        "freeze",
        "appeal",
        "revise",
        "decide",
    ]
    assert audit.verify("assessment", [journal.log_id(w.county.id, OCTOBER)]) == (None, 10)
