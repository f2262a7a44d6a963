"""The monthly cycle's pages and documents (enforce/exceed/cycle_pages.py): a county submits
its month, the prefecture records its steps, the minutes and the handover list, each document
downloads as Excel in Chinese, and bad posts are refused with a clear message and nothing
written. The month is last month (the cycle under way)."""

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from enforce.exceed import cycle_pages
from enforce.exceed.cycle_models import CycleClue, CycleStep, ReviewMinutes
from extensions import db
from grid import services as grid_services
from grid.access import scope_for
from grid.models import Role
from grid.time import local_today
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.test_enforce_cycle import _disposal, _hours, _point


def _last_month() -> date:
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


@pytest.fixture
def month(make_world, make_source):
    """Last month in a fresh county: A 3 hours (one case), B 2 hours without a disposal, C a
    key polluter with 1 hour; a prefecture office person."""
    world = make_world()
    first = _last_month()
    sources = {n: make_source(world, key_polluter=(n == "C")) for n in "ABC"}
    points = {n: _point(world, s) for n, s in sources.items()}
    _hours(points["A"], first + timedelta(days=2), 3, disposal=_disposal(world, "case"))
    _hours(points["B"], first + timedelta(days=5), 2)
    _hours(points["C"], first + timedelta(days=6), 1)
    office = factories.person("cycle-zhou")
    grid_services.appoint(office, world.root, Role.OFFICE, local_today() - timedelta(days=60))
    db.session.flush()
    world.sources, world.prefecture = sources, office
    world.month = first
    return world


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")  # the messages as written here


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count(model.id)))


def test_the_county_sees_its_counts_and_submits_its_month(client, month):
    sign_in(client, month.county_office)
    m = f"{month.month:%Y-%m}"
    page = client.get("/enforce/cycle").get_data(as_text=True)
    assert f'id="cycle-county-{month.county.id}"' in page
    assert "Submit the month" in page
    answer = _post(client, f"/enforce/cycle/counties/{month.county.id}/report", month=m)
    assert answer.status_code == 303
    record = db.session.scalar(sa.select(CycleStep).where(CycleStep.county_id == month.county.id))
    assert (record.exceedances, record.cases, record.opinions, record.undisposed) == (6, 1, 0, 3)
    assert record.done_on == local_today()
    # Twice: refused, said why, nothing more written.
    again = _post(client, f"/enforce/cycle/counties/{month.county.id}/report", month=m)
    assert again.status_code == 303
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "already recorded on" in page
    assert _count(CycleStep) == 1


def test_a_month_to_come_is_refused_with_nothing_written(client, month):
    sign_in(client, month.county_office)
    answer = _post(
        client,
        f"/enforce/cycle/counties/{month.county.id}/report",
        month=f"{local_today():%Y-%m}",
    )
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "is not over" in page
    assert _count(CycleStep) == 0
    ahead = _post(
        client,
        f"/enforce/cycle/counties/{month.county.id}/report",
        month=f"{local_today() + timedelta(days=40):%Y-%m}",
    )
    assert ahead.status_code == 400
    assert "Month" in ahead.get_data(as_text=True)
    assert _count(CycleStep) == 0


def test_minutes_without_conclusions_are_refused(client, month):
    sign_in(client, month.prefecture)
    answer = _post(
        client,
        "/enforce/cycle/minutes",
        month=f"{month.month:%Y-%m}",
        summary="上月超标6小时",
        conclusions="",
    )
    assert answer.status_code == 400
    assert "Conclusions" in answer.get_data(as_text=True)
    assert (_count(ReviewMinutes), _count(CycleClue), _count(CycleStep)) == (0, 0, 0)


def _sheet(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(answer.get_data()))
    return [
        [cell for cell in row if cell is not None]
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    ]


def test_the_cycle_from_minutes_to_handover_and_its_documents(client, month):
    sign_in(client, month.prefecture)
    m = f"{month.month:%Y-%m}"
    assert client.get(f"/enforce/cycle/minutes.xlsx?month={m}").status_code == 409
    assert client.get(f"/enforce/cycle/clues.xlsx?month={m}").status_code == 409
    page = client.get(f"/enforce/cycle?month={m}").get_data(as_text=True)
    assert 'id="cycle-minutes-form"' in page
    b, c = month.sources["B"], month.sources["C"]
    answer = _post(
        client,
        "/enforce/cycle/minutes",
        month=m,
        summary="上月超标6小时",
        conclusions="对未立案企业移交线索",
        escalations="",
        accountability="某县逾期报送",
        escalated=str(b.id),
    )
    assert answer.status_code == 303
    minutes = db.session.scalar(sa.select(ReviewMinutes).where(ReviewMinutes.month == month.month))
    assert minutes.accountability == "某县逾期报送"
    assert _post(client, "/enforce/cycle/handover", month=m).status_code == 303
    mine = {
        clue.source_id: clue.kept
        for clue in db.session.scalars(
            sa.select(CycleClue).where(CycleClue.source_id.in_([b.id, c.id]))
        )
    }
    assert mine[b.id] is True  # escalated: the detachment keeps it whatever else there is
    assert _post(client, "/enforce/cycle/steps", month=m, step="monthly_notice").status_code == 303

    rows = _sheet(client.get(f"/enforce/cycle/clues.xlsx?month={m}"))
    assert any("线索移交清单" in str(r[0]) for r in rows if r)
    row_b = next(r for r in rows if b.name in r)
    assert row_b[-1] == "州生态环境执法支队" and "是" in row_b
    rows = _sheet(client.get(f"/enforce/cycle/minutes.xlsx?month={m}"))
    assert ["三、会审结论", "对未立案企业移交线索"] in rows
    assert ["五、问责线索", "某县逾期报送"] in rows
    rows = _sheet(client.get(f"/enforce/cycle/notice.xlsx?month={m}"))
    assert any("在线监控超标数据处置情况通报" in str(r[0]) for r in rows if r)
    county = next(r for r in rows if r and r[0] == month.county.name)
    assert county[1:5] == [6, 1, 0, 3]
    notice = next(r for r in rows if r and r[0] == "月度报告及通报")
    assert notice[3] == local_today().isoformat()
    assert ["三、逾期情况（纳入问责）"] in rows


def test_only_the_steps_recorded_by_hand_are_accepted(client, month):
    sign_in(client, month.prefecture)
    answer = _post(
        client, "/enforce/cycle/steps", month=f"{month.month:%Y-%m}", step="review_meeting"
    )
    assert answer.status_code == 400
    assert "Step" in answer.get_data(as_text=True)
    assert _count(CycleStep) == 0


def test_the_hub_lines_show_what_is_coming(app, client, month):
    sign_in(client, month.prefecture)
    page = client.get("/enforce/cycle").get_data(as_text=True)
    assert "Late steps, for accountability" in page
    for line in ("cycle-steps", "cycle-counties"):
        assert f'id="{line}"' in page


def test_cycle_due_shows_this_persons_steps(app, month):
    """The hub's part (cycle_pages.cycle_due): the prefecture office sees its steps, a county
    office only its county's report, others nothing."""
    with app.test_request_context("/enforce/"):
        office = str(cycle_pages.cycle_due(scope_for(month.prefecture, local_today())))
        county = str(cycle_pages.cycle_due(scope_for(month.county_office, local_today())))
        nobody = str(cycle_pages.cycle_due(scope_for(month.supervisor, local_today())))
    assert 'id="cycle-due"' in office and 'id="cycle-due"' in county
    assert nobody == ""


def test_the_due_lines_on_fixed_days(app, month):
    """Last month's steps, seen on the 20th of this month: all overdue. The county's report of
    this month, seen 3 days before its 5th: due soon."""
    nxt = (month.month + timedelta(days=40)).replace(day=1)  # the month after the one reported
    prefecture = scope_for(month.prefecture, local_today())
    county = scope_for(month.county_office, local_today())
    with app.test_request_context("/enforce/"):
        late = cycle_pages.due_lines(prefecture, nxt.replace(day=20))
        own = cycle_pages.due_lines(county, nxt.replace(day=20))
    steps = {line.step for line in late if line.county_id is None}
    assert len(steps) == 5 and all(line.status.state.value == "overdue" for line in late)
    assert [line.county_id for line in own] == [month.county.id]
    assert own[0].status.days == 15


def test_a_coming_deadline_is_shown_before_its_month_is_over(app, make_world, make_source):
    """September 2026's report is due on 5 October, a holiday: on 28 September the county
    office already sees it, flagged, while September is not over."""
    world = make_world()
    _hours(_point(world, make_source(world)), date(2026, 9, 2), 1)
    county = scope_for(world.county_office, local_today())
    with app.test_request_context("/enforce/"):
        lines = cycle_pages.due_lines(county, date(2026, 9, 28))
        quiet = cycle_pages.due_lines(county, date(2026, 9, 25))
    assert [(line.status.due, line.status.days, line.status.non_working) for line in lines] == [
        (date(2026, 10, 5), 7, True)
    ]
    assert quiet == []
