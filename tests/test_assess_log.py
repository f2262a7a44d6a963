"""The month's log (assess/journal.py): every record, correction, freeze, revision, appeal and
decision is a link of the county's month's hash chain; a correction before the freeze changes
what gathering counts, one after it makes a new version; and the forms that do all this on the
month's page (assess/office_pages.py)."""

from datetime import timedelta

import pytest

from assess import appeals, corrections, facts, journal, services, snapshots
from assess.models import AppealStatus, AssessRecord, MonthEvent, MonthSnapshot, RecordKind
from extensions import db
from grid import audit
from grid.errors import ServiceError
from problems.findings import MISSED
from tests.conftest import csrf_token, sign_in
from tests.test_assess import (  # noqa: F401 - fixtures
    county,
    finding,
    frozen,
    last_month,
    month_of,
    no_frozen_history,
    prefecture,
)


def kinds(world, first):
    return [e.event for e in journal.events_of(world.county.id, first)]


def test_a_correction_before_the_freeze_is_counted_and_logged_with_the_value_measured(county):
    first, day = last_month()
    finding(county, day, MISSED)
    finding(county, day, MISSED)
    assert month_of(county).facts.missed_problems == 2
    office = county.county_office
    corrections.correct(county.county, first, "missed_problems", 1, "一个属于邻县", by=office)
    mine = month_of(county)
    assert (mine.facts.missed_problems, mine.measured) == (1, {"missed_problems": 2})
    assert mine.assessment.score == 99
    # The share counts the corrected value: 1 of the prefecture's corrected total.
    months = facts.gather(first.year, first.month)
    assert mine.missed_share == 1 / sum(m.facts.missed_problems for m in months)
    [event] = journal.events_of(county.county.id, first)
    assert event.data == {"fact": "missed_problems", "value": 1, "measured": 2}
    assert event.comment == "一个属于邻县" and event.actor_id == office.id
    # Corrected again: the latest value counts, the value measured stays the data's.
    corrections.correct(county.county, first, "missed_problems", 0, "两个都不是", by=office)
    assert month_of(county).facts.missed_problems == 0
    assert journal.events_of(county.county.id, first)[-1].data["measured"] == 2
    # Frozen with the correction applied, and the log goes on.
    snapshots.freeze(first.year, first.month, by=office)
    assert snapshots.latest(first)[county.county.id].facts["missed_problems"] == 0
    assert kinds(county, first) == ["correct", "correct", "freeze"]
    assert audit.verify("assessment", [journal.log_id(county.county.id, first)]) == (None, 3)


def test_a_bad_correction_is_refused_and_writes_nothing(county):
    first, day = last_month()
    finding(county, day, MISSED)
    events_before = db.session.query(MonthEvent).count()
    cases = [
        (county.township, "missed_problems", 0, "乡镇"),  # not a level-2 grid
        (county.county, "overdue_inspection_items", 0, "记录项"),  # a record, withdrawn instead
        (county.county, "missed_problems", 0, "   "),  # no reason
        (county.county, "missed_problems", 1, "与测得相同"),  # no change
    ]
    for grid, fact, value, reason in cases:
        with pytest.raises(ServiceError):
            corrections.correct(grid, first, fact, value, reason, by=None)
    later = (first + timedelta(days=70)).replace(day=1)
    with pytest.raises(ServiceError):
        corrections.correct(county.county, later, "missed_problems", 0, "未来", by=None)
    assert db.session.query(MonthEvent).count() == events_before
    for fact, typed in [
        ("missed_problems", "-1"),
        ("missed_problems", "1.5"),
        ("missed_problems", "10001"),
        ("grid_established", "yes"),
        ("score", "100"),
    ]:
        with pytest.raises(ServiceError):
            corrections.value_of(fact, typed)
    assert corrections.value_of("grid_established", "0") is False
    assert corrections.value_of("unassigned_reports", " 3 ") == 3


def test_a_correction_after_the_freeze_is_a_new_version(county, frozen):
    first = frozen.month
    made = corrections.correct(county.county, first, "missed_problems", 1, "核减", by=None)
    assert isinstance(made, MonthSnapshot) and (made.version, made.result["score"]) == (2, 99)
    assert made.reason == "更正：核减" and frozen.result["score"] == 98
    log = journal.events_of(county.county.id, first)
    assert [e.event for e in log] == ["freeze", "revise"]
    assert log[-1].data["changes"] == {"missed_problems": [2, 1]}


def test_records_appeals_and_decisions_are_links_of_the_chain(county, frozen):
    first = frozen.month
    item = services.record(county.county, RecordKind.BONUS, "主动发现", by=None, month=first)
    services.withdraw(item, "重复", by=None)
    appeal = appeals.file(frozen, "item4", "邻县问题", by=county.county_office)
    appeals.decide(appeal, True, "核实", by=None, changes={"missed_problems": 1})
    assert kinds(county, first) == ["freeze", "record", "withdraw", "appeal", "revise", "decide"]
    broken, checked = audit.verify("assessment")
    assert broken is None and checked >= 6
    # An event changed in place breaks its chain, and verify says where.
    [record_event] = [e for e in journal.events_of(county.county.id, first) if e.event == "record"]
    record_event.comment = "改过的说明"
    db.session.flush()
    broken, _ = audit.verify("assessment")
    assert broken is not None and broken.seq == record_event.seq


# --- the forms on the month's page -------------------------------------------------------------


def post(client, url, **fields):
    answer = client.post(url, data={"csrf_token": csrf_token(client), **fields})
    db.session.expire_all()  # what the request wrote, not what this session holds
    return answer


def test_the_office_records_corrects_and_freezes_from_the_pages(client, county, prefecture):
    first, day = last_month()
    finding(county, day, MISSED)
    m = f"{first:%Y-%m}"
    page = f"/assess/{county.county.id}"
    sign_in(client, prefecture)
    shown = client.get(f"{page}?month={m}").get_data(as_text=True)
    assert "assess/" + str(county.county.id) + "/corrections" in shown
    answer = post(
        client,
        f"{page}/records",
        month=m,
        kind="inspection",
        title="督察交办问题",
        due_on=day.isoformat(),
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[-3000:]
    [item] = db.session.query(AssessRecord).filter_by(county_id=county.county.id).all()
    assert (item.kind, item.title, item.due_on, item.recorded_by_id) == (
        "inspection",
        "督察交办问题",
        day,
        prefecture.id,
    )
    assert month_of(county).facts.overdue_inspection_items == 1
    post(
        client,
        f"/assess/records/{item.id}/rectified",
        rectified_on=(day - timedelta(days=1)).isoformat(),
    )
    assert month_of(county).facts.overdue_inspection_items == 0
    post(client, f"{page}/corrections", month=m, fact="missed_problems", value="0", reason="误判")
    assert month_of(county).facts.missed_problems == 0
    shown = client.get(f"{page}?month={m}").get_data(as_text=True)
    assert "误判" in shown and 'id="log"' in shown
    # A refusal: back to the page with the reason, nothing written.
    before = db.session.query(MonthEvent).count()
    refused = post(
        client, f"{page}/corrections", month=m, fact="missed_problems", value="x", reason="错"
    )
    assert refused.status_code == 303
    assert db.session.query(MonthEvent).count() == before
    assert post(client, "/assess/freeze", month=m).status_code == 303
    assert snapshots.latest(first)[county.county.id].facts["missed_problems"] == 0
    # The county's office may not record, correct or freeze.
    sign_in(client, county.county_office)
    assert (
        post(client, f"{page}/records", month=m, kind="bonus", title="自己加分").status_code == 403
    )
    assert post(client, "/assess/freeze", month=m).status_code == 403
    assert post(client, f"/assess/records/{item.id}/withdraw", reason="x").status_code == 403


def test_the_county_appeals_and_the_office_answers_from_the_pages(
    client, county, frozen, prefecture
):
    first = frozen.month
    m = f"{first:%Y-%m}"
    page = f"/assess/{county.county.id}"
    sign_in(client, county.county_office)
    shown = client.get(f"{page}?month={m}").get_data(as_text=True)
    assert "appeals" in shown and 'value="item4"' in shown and 'value="item5"' not in shown
    assert (
        post(
            client, f"{page}/appeals", month=m, item="item4", reason="其中一个属于邻县"
        ).status_code
        == 303
    )
    [appeal] = appeals.of_month(county.county.id, first)
    assert appeal.status == AppealStatus.PENDING
    # The office may not appeal; the county may not answer.
    assert (
        post(
            client,
            f"/assess/appeals/{appeal.id}/decision",
            decision="accept",
            value="1",
            answer="自己批准",
        ).status_code
        == 403
    )
    sign_in(client, prefecture)
    assert post(client, f"{page}/appeals", month=m, item="item4", reason="x").status_code == 403
    # Accepted with no count: refused, nothing changes.
    post(client, f"/assess/appeals/{appeal.id}/decision", decision="accept", answer="成立")
    assert appeal.status == AppealStatus.PENDING
    post(
        client,
        f"/assess/appeals/{appeal.id}/decision",
        decision="accept",
        value="1",
        answer="核实属于邻县",
    )
    db.session.refresh(appeal)
    assert appeal.status == AppealStatus.ACCEPTED
    latest = snapshots.latest(first)[county.county.id]
    assert (latest.version, latest.result["score"]) == (2, 99)
    shown = client.get(f"{page}?month={m}").get_data(as_text=True)
    assert "核实属于邻县" in shown and "第 2 版" in shown
    assert kinds(county, first)[-3:] == ["appeal", "revise", "decide"]
