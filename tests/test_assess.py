"""The month's facts gathered from the data and assessed (assess/facts.py, RULES §5): items 1-3
from the posts, item 4 and the media from upper findings decided through problems/, item 7,
the bonus and the automatic fails from the prefecture office's records."""

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from assess import appeals, facts, queries, services, snapshots
from assess.models import MonthSnapshot, RecordKind
from grid import services as grid_services
from grid.errors import ServiceError
from grid.models import Role
from grid.time import local_today
from problems import services as problem_services
from problems.findings import ALREADY_REPORTED, MISSED
from tests import factories
from tests.conftest import sign_in
from tests.test_findings import add_problem


@pytest.fixture(autouse=True)
def no_frozen_history(db_session):
    """These tests freeze the months before this one themselves: the demo's frozen year
    (assess/demo.py) is set aside, inside the test's rolled-back transaction."""
    db_session.execute(sa.delete(MonthSnapshot))


def last_month():
    first = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    return first, first + timedelta(days=14)  # the month's first day and a day inside it


@pytest.fixture
def county(make_world):
    """A world whose county has all of items 1-3 in place: heads, an office (the world's),
    a county sub-grid head over the township and a township one over both villages."""
    return factories.staff_county(make_world(villages=2), local_today() - timedelta(days=90))


def month_of(world):
    first, _inside = last_month()
    [mine] = [m for m in facts.gather(first.year, first.month) if m.county.id == world.county.id]
    return mine


def finding(world, day, decision, kind="inspection", level=None, problems=()):
    made = problem_services.record_finding(
        problem_services.FindingFields(
            county_id=world.county.id,
            found_on=day,
            kind=kind,
            media_level=level,
            category="dust",
            lon=None,
            lat=None,
            place="测试地点",
            description="上级发现的问题",
        ),
        by=world.county_office,
    )
    problem_services.decide(made, decision, [p.id for p in problems], world.county_office)
    return made


def test_a_month_in_full_order_scores_100(county):
    mine = month_of(county)
    assert mine.facts.grid_established and mine.facts.sub_heads_full_coverage
    assert mine.facts.disclosure_published
    assert (mine.assessment.score, mine.assessment.grade) == (100, "优秀")


def test_a_month_gathered_from_findings_and_records_is_scored_by_the_rules(county):
    first, day = last_month()
    for _ in range(2):  # item 4: two missed problems, -1 each
        finding(county, day, MISSED)
    reported = add_problem(county.village, day_start(day))
    # One problem exposed by regional and prefecture media: counted once, at 30.
    finding(county, day, ALREADY_REPORTED, "media", "region", [reported])
    finding(county, day, ALREADY_REPORTED, "media", "prefecture", [reported])
    office = county.county_office
    services.record(county.county, RecordKind.INSPECTION, "督察问题一", by=office, due_on=day)
    on_time = services.record(
        county.county, RecordKind.INSPECTION, "督察问题二", by=office, due_on=day
    )
    services.rectified(on_time, day - timedelta(days=1), by=office)
    mistaken = services.record(county.county, RecordKind.INSPECTION, "误录", by=office, due_on=day)
    services.withdraw(mistaken, "重复录入", by=office)
    services.record(county.county, RecordKind.BONUS, "主动发现重大问题", by=office, month=first)

    mine = month_of(county)
    assert mine.facts.missed_problems == 2
    assert mine.facts.media_exposures == [{"region", "prefecture"}]
    assert mine.facts.overdue_inspection_items == 1 and mine.facts.major_discoveries == 1
    a = mine.assessment
    # 30 + max(0, (38 + 10 + 10 + 0) - 30) + 0 + 2, counted by hand.
    assert (a.score, a.grade, a.media, a.bonus) == (60, "合格", 30, 2)
    assert mine.missed_share > 0


def test_an_automatic_fail_or_a_missing_sub_head_fails_the_month(county, make_world):
    first, _day = last_month()
    services.record(county.county, RecordKind.AUTO_FAIL, "同一投诉三次未解决", by=None, month=first)
    mine = month_of(county)
    assert mine.assessment.grade == "不合格" and mine.assessment.score == 100
    assert mine.assessment.forced_fail == ["第六条（三）：同一投诉三次未解决"]
    bare = make_world(villages=1)  # an office but no head, no sub-grid heads
    [other] = [m for m in facts.gather(first.year, first.month) if m.county.id == bare.county.id]
    assert not other.facts.grid_established and not other.facts.sub_heads_full_coverage
    assert (other.assessment.score, other.assessment.vetoed) == (0, True)


def test_a_bad_record_is_refused(county):
    first, day = last_month()
    with pytest.raises(ServiceError):
        services.record(county.county, RecordKind.INSPECTION, "无期限", by=None)
    with pytest.raises(ServiceError):
        services.record(county.township, RecordKind.BONUS, "乡镇", by=None, month=first)
    with pytest.raises(ServiceError):
        services.record(county.county, RecordKind.BONUS, "带期限", by=None, month=first, due_on=day)
    made = services.record(county.county, RecordKind.BONUS, "加分", by=None, month=first)
    services.withdraw(made, "误录", by=None)
    with pytest.raises(ServiceError):
        services.withdraw(made, "再次", by=None)


def test_the_command_prints_the_months_ranking(runner, county):
    first, _day = last_month()
    shown = runner.invoke(args=["scores", "month", f"{first:%Y-%m}"])
    assert shown.exit_code == 0, shown.output
    assert county.county.name in shown.output and "100\t优秀" in shown.output
    assert runner.invoke(args=["scores", "month", "2026-13"]).exit_code != 0
    assert runner.invoke(args=["scores", "month", "October"]).exit_code != 0


def day_start(day):
    """A moment inside `day` (naive UTC, noon in China)."""
    return datetime.combine(day, time(4, 0))


# --- freezing and revising (assess/snapshots.py) ----------------------------------------------


def test_a_frozen_month_never_changes_and_a_revision_is_a_new_version(county):
    first, day = last_month()
    finding(county, day, MISSED)
    made = snapshots.freeze(first.year, first.month, by=county.county_office)
    [frozen] = [s for s in made if s.county_id == county.county.id]
    assert (frozen.version, frozen.result["score"], frozen.facts["missed_problems"]) == (1, 99, 1)
    assert snapshots.intact(frozen)
    # Later data does not touch the frozen month.
    finding(county, day, MISSED)
    assert snapshots.latest(first)[county.county.id].result["score"] == 99
    with pytest.raises(ServiceError):
        snapshots.freeze(first.year, first.month, by=None)
    # An accepted appeal: one missed problem was not the county's.
    revised = snapshots.revise(frozen, {"missed_problems": 0}, "申诉成立：非本地问题", by=None)
    assert (revised.version, revised.result["score"]) == (2, 100)
    assert [s.version for s in snapshots.versions(county.county.id, first)] == [2, 1]
    assert frozen.result["score"] == 99 and snapshots.intact(frozen)
    with pytest.raises(ServiceError):
        snapshots.revise(frozen, {"missed_problems": 0}, "旧版本", by=None)  # not the latest
    with pytest.raises(ServiceError):
        snapshots.revise(revised, {"score": 100}, "不是事实", by=None)


def test_a_changed_snapshot_row_is_found(county):
    first, day = last_month()
    finding(county, day, MISSED)
    made = snapshots.freeze(first.year, first.month, by=None)
    [frozen] = [s for s in made if s.county_id == county.county.id]
    assert snapshots.intact(frozen)
    frozen.result = {**frozen.result, "score": 100, "grade": "优秀"}
    frozen.facts = {**frozen.facts, "missed_problems": 0}
    assert not snapshots.intact(frozen)  # consistent with itself, but not with its digest


def test_the_month_under_way_cannot_be_frozen(county):
    today = local_today()
    with pytest.raises(ServiceError):
        snapshots.freeze(today.year, today.month, by=None)


def test_the_command_freezes_and_then_prints_the_frozen_month(runner, county):
    first, day = last_month()
    frozen = runner.invoke(args=["scores", "month", f"{first:%Y-%m}", "--freeze"])
    assert frozen.exit_code == 0, frozen.output
    assert "已冻结" in frozen.output and "第 1 版" in frozen.output
    finding(county, day, MISSED)  # after the freeze: not in the frozen month
    shown = runner.invoke(args=["scores", "month", f"{first:%Y-%m}", "--details"])
    assert "100\t优秀" in shown.output and "第4项" in shown.output
    again = runner.invoke(args=["scores", "month", f"{first:%Y-%m}", "--freeze"])
    assert again.exit_code != 0 and "已冻结" in again.output


# --- appeals (assess/appeals.py) --------------------------------------------------------------


@pytest.fixture
def frozen(county):
    first, day = last_month()
    finding(county, day, MISSED)
    finding(county, day, MISSED)
    made = snapshots.freeze(first.year, first.month, by=None)
    [mine] = [s for s in made if s.county_id == county.county.id]
    return mine


def test_an_accepted_appeal_makes_a_new_version_and_keeps_the_old(county, frozen):
    appeal = appeals.file(frozen, "item4", "其中一个问题属于邻县", by=county.county_office)
    with pytest.raises(ServiceError):  # one pending appeal per deduction
        appeals.file(frozen, "item4", "再次申诉", by=county.county_office)
    revision = appeals.decide(appeal, True, "核实属于邻县", by=None, changes={"missed_problems": 1})
    assert (frozen.result["score"], revision.result["score"], revision.version) == (98, 99, 2)
    assert appeal.status == "accepted" and appeal.revision_id == revision.id
    assert "申诉 #" in revision.reason and snapshots.intact(frozen)
    with pytest.raises(ServiceError):  # answered once
        appeals.decide(appeal, False, "改判", by=None)


def test_a_rejected_appeal_changes_nothing_and_bad_appeals_are_refused(county, frozen):
    with pytest.raises(ServiceError):
        appeals.file(frozen, "item1", "不是扣分项", by=None)
    with pytest.raises(ServiceError):
        appeals.file(frozen, "item5", "本月没有这项扣分", by=None)  # item 5 lost nothing
    with pytest.raises(ServiceError):
        appeals.file(frozen, "item4", "  ", by=None)
    late = appeals.deadline(frozen) + timedelta(seconds=1)
    with pytest.raises(ServiceError):
        appeals.file(frozen, "item4", "超过申诉期", by=None, now=late)
    appeal = appeals.file(frozen, "item4", "理由", by=None)
    with pytest.raises(ServiceError):
        appeals.decide(appeal, True, "成立", by=None)  # which facts it corrects, unsaid
    assert appeals.decide(appeal, False, "证据不足", by=None) is None
    assert appeal.status == "rejected"
    assert [s.version for s in snapshots.versions(county.county.id, frozen.month)] == [1]
    assert appeals.of_month(county.county.id, frozen.month) == [appeal]


def test_the_window_counts_working_days(app):
    # Frozen on Friday 2026-10-30 10:00 in China: 5 working days end on Friday 2026-11-06 10:00.
    with app.app_context():
        end = appeals.working_deadline(datetime(2026, 10, 30, 2, 0), 5)
    assert end == datetime(2026, 11, 6, 2, 0)
    # Over the National Day holidays (10-01 to 10-07 off, Saturday 10-10 worked), by hand: 14 h
    # on 09-30, whole days 10-08, 10-09, 10-10 and 10-12, then 10 h on 10-13.
    with app.app_context():
        end = appeals.working_deadline(datetime(2026, 9, 30, 2, 0), 5)
    assert end == datetime(2026, 10, 13, 2, 0)


# --- the pages (assess/views.py) ---------------------------------------------------------------


@pytest.fixture
def prefecture(county):
    person = factories.person("prefecture-office")
    grid_services.appoint(person, county.root, Role.OFFICE, local_today() - timedelta(days=1))
    return person


def test_the_prefecture_sees_the_ranking_and_a_county_its_own_month(
    client, county, prefecture, frozen
):
    first = frozen.month
    sign_in(client, prefecture)
    page = client.get(f"/assess/?month={first:%Y-%m}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert county.county.name in html and "已冻结" in html and "grade-a" in html
    sign_in(client, county.county_office)
    sent = client.get(f"/assess/?month={first:%Y-%m}")
    assert sent.status_code == 302 and f"/assess/{county.county.id}" in sent.location
    own = client.get(sent.location).get_data(as_text=True)
    assert "98 分" in own and "第4项" in own and "decision=missed" in own
    assert "第 1 版" in own and "申诉截止" in own
    sign_in(client, county.township_head)
    assert client.get(f"/assess/{county.county.id}").status_code == 403
    sent = client.get("/assess/")  # the township's supervisors' own figures instead
    assert sent.status_code == 302 and f"/assess/people/{county.township.id}" in sent.location
    sign_in(client, county.supervisor)
    assert client.get("/assess/").status_code == 403


def test_a_month_to_come_is_refused_with_its_reason(client, county, prefecture):
    sign_in(client, prefecture)
    later = (local_today().replace(day=28) + timedelta(days=10)).strftime("%Y-%m")
    answer = client.get(f"/assess/?month={later}")
    assert answer.status_code == 400 and "月份" in answer.get_data(as_text=True)


def test_an_item_due_on_the_months_last_day_counts_once_the_day_is_over(county):
    first, _day = last_month()
    last_day = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    services.record(county.county, RecordKind.INSPECTION, "月末到期", by=None, due_on=last_day)
    assert month_of(county).facts.overdue_inspection_items == 1
    today = local_today()
    services.record(county.county, RecordKind.INSPECTION, "今天到期", by=None, due_on=today)
    [now] = [m for m in facts.gather(today.year, today.month) if m.county.id == county.county.id]
    assert now.facts.overdue_inspection_items == 0  # its deadline has not passed yet


def test_consequences_count_the_frozen_months_before(county):
    first, _day = last_month()
    rows = queries.month_rows(first)
    failed = [replace(r, grade="不合格") for r in rows]
    # The months before are not frozen: no run of three fails, whatever this one says.
    assert queries.consequences(first, failed)[county.county.id] == []
    before = queries.previous_month(first)
    for month in (queries.previous_month(before), before):
        for made in snapshots.freeze(month.year, month.month, by=None):
            if made.county_id == county.county.id:
                snapshots.revise(made, {"grid_established": False}, "测试：否决", by=None)
    assert queries.consequences(first, failed)[county.county.id] == ["专项督查", "问责建议"]


def test_a_grid_made_after_the_month_was_frozen_has_no_month_to_show(client, frozen, make_world):
    later = make_world(villages=1)
    sign_in(client, later.county_office)
    assert client.get(f"/assess/{later.county.id}?month={frozen.month:%Y-%m}").status_code == 404


def test_a_township_head_finds_the_supervisors_figures_on_the_home_page(client, county):
    sign_in(client, county.township_head)
    home = client.get("/").get_data(as_text=True)
    link = f'href="/assess/people/{county.township.id}"'
    assert link in home and "监管员个人月度指标" in home
    assert client.get(f"/assess/people/{county.township.id}").status_code == 200
    sign_in(client, county.supervisor)  # a village's supervisor: not theirs to see
    assert "/assess/people/" not in client.get("/").get_data(as_text=True)
