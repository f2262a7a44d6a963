"""Typical cases (enforce/cases; RULES §10, annex 4): prepared by an office from a closed problem
or typed in, anonymised with the names the app knows, reviewed by a second person, approved by a
third of the prefecture office, then public; the original never leaves the office."""

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.cases import anonymise, services
from enforce.cases.models import CaseState, TypicalCase, TypicalCaseStep
from extensions import db
from grid import services as grid_services
from grid.errors import ServiceError
from grid.models import Role, User
from grid.time import local_today
from problems.escalation import State
from tests import factories
from tests.conftest import csrf_token, sign_in


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


FILLER = "执法人员现场检查发现，该企业料场物料未全部苫盖，厂区道路未硬化，运输车辆未密闭。"


def _text(world, source, target: int = 1200) -> str:
    """A case naming the parties, about `target` characters once anonymised."""
    head = (
        f"{source.name}位于昌吉市延安北路198号，联系人{source.contact_name}（手机13899887766）。"
        f"网格员{world.supervisor.name}巡查时发现问题，投诉人李明华反映车辆新B12345夜间运输。\n"
    )
    body = head
    while anonymise.counted_length(body) < target:
        body += FILLER
    return body


@pytest.fixture
def scene(db_session, make_world, make_source, make_problem):
    world = make_world()
    source = make_source(world, name="宏达建材有限公司", contact_name="王建军")
    problem = make_problem(world, State.CLOSED, complainant_name="李明华", source_id=source.id)
    reviewer = factories.person("reviewer")
    grid_services.appoint(reviewer, world.county, Role.OFFICE, local_today())
    zhou = db.session.scalar(sa.select(User).where(User.username == "zhou"))
    db.session.flush()
    return world, source, problem, reviewer, zhou


def _steps(case):
    return [
        (s.step, s.actor_id, s.from_state, s.to_state)
        for s in db.session.scalars(
            sa.select(TypicalCaseStep)
            .where(TypicalCaseStep.case_id == case.id)
            .order_by(TypicalCaseStep.seq)
        )
    ]


def test_a_case_from_a_closed_problem_replaces_every_name_the_app_knows(scene):
    world, source, problem, _reviewer, _zhou = scene
    original = _text(world, source)
    case = services.prepare(None, problem, "宏达建材有限公司扬尘案", original, world.county_office)
    assert case.county_id == world.county.id and case.problem_id == problem.id
    assert case.original == original
    assert case.title == "某公司A扬尘案"
    for secret in ("宏达建材有限公司", "王建军", "13899887766", world.supervisor.name, "李明华"):
        assert secret not in case.text and secret not in case.title
        assert secret in case.original or secret in case.original_title
    for placeholder in ("某公司A", "王某", "某路某号", "新B×××××", "李某"):
        assert placeholder in case.text
    kinds = {r["original"]: r["kind"] for r in case.replacements}
    assert kinds["王建军"] == anonymise.PERSON and kinds["宏达建材有限公司"] == anonymise.COMPANY
    assert case.length == anonymise.counted_length(case.text)
    assert _steps(case) == [("prepared", world.county_office.id, None, "draft")]


def test_an_open_problem_is_no_case(scene, make_problem):
    world, source, _problem, _reviewer, _zhou = scene
    open_problem = make_problem(world, State.COUNTY)
    with pytest.raises(ServiceError, match="not closed"):
        services.prepare(None, open_problem, "标题", _text(world, source), world.county_office)


def test_two_steps_by_three_people_in_order(scene):
    world, source, problem, reviewer, zhou = scene
    author = world.county_office
    case = services.prepare(None, problem, "扬尘案", _text(world, source), author)
    with pytest.raises(ServiceError, match="Only a case submitted"):
        services.review(case, True, None, reviewer)  # still a draft
    services.submit(case, "请审核", author)
    with pytest.raises(ServiceError, match="review comes first"):
        services.approve(case, True, None, zhou)  # wrong order
    with pytest.raises(ServiceError, match="second person"):
        services.review(case, True, None, author)  # the same person
    services.review(case, True, "同意", reviewer)
    assert case.state == CaseState.REVIEWED
    with pytest.raises(ServiceError, match="third person"):
        services.approve(case, True, None, reviewer)
    with pytest.raises(ServiceError, match="third person"):
        services.approve(case, True, None, author)
    with pytest.raises(ServiceError, match="Only a case submitted"):
        services.review(case, True, None, zhou)  # reviewed already
    services.approve(case, True, "同意发布", zhou)
    assert case.state == CaseState.PUBLISHED and case.published_at is not None
    assert (case.reviewed_by_id, case.approved_by_id) == (reviewer.id, zhou.id)
    assert _steps(case) == [
        ("prepared", author.id, None, "draft"),
        ("submitted", author.id, "draft", "submitted"),
        ("reviewed", reviewer.id, "submitted", "reviewed"),
        ("approved", zhou.id, "reviewed", "published"),
    ]
    with pytest.raises(ServiceError, match="no longer a draft"):
        services.edit(case, "新标题", case.original, author)


def test_a_refusal_sends_the_case_back_with_its_reason(scene):
    world, source, problem, reviewer, zhou = scene
    case = services.prepare(None, problem, "扬尘案", _text(world, source), world.county_office)
    services.submit(case, None, world.county_office)
    with pytest.raises(ServiceError, match="reason is required"):
        services.review(case, False, "  ", reviewer)
    assert case.state == CaseState.SUBMITTED
    services.review(case, False, "事实部分不清楚", reviewer)
    assert case.state == CaseState.DRAFT
    # the one who returned it may now edit it, and then may not review it
    services.edit(case, "扬尘案（修改）", case.original + FILLER, reviewer)
    services.submit(case, None, world.county_office)
    with pytest.raises(ServiceError, match="second person"):
        services.review(case, True, None, reviewer)
    services.review(case, True, None, factories.person("third"))
    services.approve(case, False, "需补充处罚依据", zhou)
    assert case.state == CaseState.DRAFT and case.reviewed_by_id is None
    steps = _steps(case)
    assert [s[0] for s in steps] == [
        "prepared",
        "submitted",
        "returned",
        "edited",
        "submitted",
        "reviewed",
        "returned",
    ]
    comments = db.session.scalars(
        sa.select(TypicalCaseStep.comment)
        .where(TypicalCaseStep.case_id == case.id, TypicalCaseStep.step == "returned")
        .order_by(TypicalCaseStep.seq)
    )
    assert list(comments) == ["事实部分不清楚", "需补充处罚依据"]


def test_the_length_is_checked_on_the_public_text(scene):
    world, source, problem, _reviewer, _zhou = scene
    short = services.prepare(None, problem, "短", _text(world, source, 400), world.county_office)
    with pytest.raises(ServiceError, match="Add .* more"):
        services.submit(short, None, world.county_office)
    assert short.state == CaseState.DRAFT
    assert [s[0] for s in _steps(short)] == ["prepared"]
    before = db.session.scalar(sa.select(sa.func.count()).select_from(TypicalCase))
    with pytest.raises(ServiceError, match="Shorten it by"):
        services.prepare(None, problem, "长", _text(world, source, 1600), world.county_office)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TypicalCase)) == before


def test_the_editor_adds_a_phrase_and_undoes_a_replacement(scene):
    world, source, problem, _reviewer, _zhou = scene
    original = _text(world, source) + "宏大砂石料场同样存在问题。"
    case = services.prepare(None, problem, "扬尘案", original, world.county_office)
    assert "宏大砂石料场" in case.text
    services.add_phrase(case, "宏大砂石料场", "某砂石料场", world.county_office)
    assert "宏大砂石料场" not in case.text and "某砂石料场" in case.text
    with pytest.raises(ServiceError, match="not in the case"):
        services.add_phrase(case, "不存在的词", "某", world.county_office)
    services.keep(case, "新B12345", True, world.county_office)
    assert "新B12345" in case.text
    assert next(r for r in case.replacements if r["original"] == "新B12345")["kept"] is True
    services.keep(case, "新B12345", False, world.county_office)
    assert "新B12345" not in case.text
    with pytest.raises(ServiceError, match="not among"):
        services.keep(case, "不存在", True, world.county_office)
    assert [s[0] for s in _steps(case)] == ["prepared", "edited", "edited", "edited"]


# --- pages ------------------------------------------------------------------------------------


def _published(scene):
    world, source, problem, reviewer, zhou = scene
    case = services.prepare(
        None, problem, "宏达建材有限公司扬尘案", _text(world, source), world.county_office
    )
    services.submit(case, None, world.county_office)
    services.review(case, True, None, reviewer)
    services.approve(case, True, None, zhou)
    return case


SECRETS = ("宏达建材有限公司", "王建军", "13899887766", "李明华", "延安北路198号", "新B12345")


def test_the_public_page_never_shows_the_original(client, scene):
    world, source, problem, *_ = scene
    case = _published(scene)
    draft = services.prepare(
        None, problem, "王建军的草稿", _text(world, source), world.county_office
    )
    listing = client.get("/enforce/public/cases")
    assert listing.status_code == 200
    body = listing.get_data(as_text=True)
    assert "某公司A扬尘案" in body
    one = client.get(f"/enforce/public/cases/{case.id}")
    assert one.status_code == 200
    shown = one.get_data(as_text=True)
    assert case.text.split("\n")[0] in shown
    for text in (body, shown):
        for secret in (*SECRETS, world.supervisor.name):
            assert secret not in text
    assert client.get(f"/enforce/public/cases/{draft.id}").status_code == 404
    assert "王建军的草稿" not in body
    # the office sees the original
    sign_in(client, world.county_office)
    office = client.get(f"/enforce/cases/{case.id}").get_data(as_text=True)
    assert "王建军" in office and "某公司A扬尘案" in office


def test_the_public_list_is_paginated(client, scene):
    for _ in range(11):
        _published(scene)
    first = client.get("/enforce/public/cases").get_data(as_text=True)
    assert first.count('class="card"') == 10
    second = client.get("/enforce/public/cases?page=2").get_data(as_text=True)
    assert second.count('class="card"') >= 1


def test_a_case_text_over_the_length_is_refused_on_the_page_and_nothing_is_written(client, scene):
    world, source, *_ = scene
    sign_in(client, world.county_office)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(TypicalCase))
    long_text = _text(world, source, 1600)
    answer = client.post(
        "/enforce/cases/new",
        data={
            "csrf_token": csrf_token(client),
            "county": str(world.county.id),
            "title": "超长的案例",
            "original": long_text,
        },
    )
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert "a typical case has 1000 to 1500" in body and "Shorten it by" in body
    assert "超长的案例" in body  # the form comes back as typed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TypicalCase)) == before


def _state(case):
    db.session.refresh(case)
    return case.state


def test_the_office_goes_through_the_steps_on_the_pages(client, scene):
    world, source, problem, reviewer, zhou = scene
    sign_in(client, world.county_office)
    new = client.get(f"/enforce/cases/new?problem={problem.id}")
    assert new.status_code == 200 and "测试问题" in new.get_data(as_text=True)
    answer = client.post(
        "/enforce/cases/new",
        data={
            "csrf_token": csrf_token(client),
            "problem": str(problem.id),
            "title": "宏达建材有限公司扬尘案",
            "original": _text(world, source),
        },
    )
    assert answer.status_code == 303
    case = db.session.scalar(sa.select(TypicalCase).order_by(TypicalCase.id.desc()))
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "王建军" in page and "王某" in page and "Undo" in page
    token = csrf_token(client)
    client.post(f"/enforce/cases/{case.id}/submit", data={"csrf_token": token})
    assert _state(case) == CaseState.SUBMITTED
    answer = client.post(
        f"/enforce/cases/{case.id}/review", data={"csrf_token": token, "decision": "pass"}
    )
    assert answer.status_code == 303 and _state(case) == CaseState.SUBMITTED  # the same person
    # a county office may not approve
    sign_in(client, reviewer)
    token = csrf_token(client)
    client.post(f"/enforce/cases/{case.id}/review", data={"csrf_token": token, "decision": "pass"})
    assert _state(case) == CaseState.REVIEWED
    answer = client.post(
        f"/enforce/cases/{case.id}/approve", data={"csrf_token": token, "decision": "pass"}
    )
    assert answer.status_code == 403
    sign_in(client, zhou)
    token = csrf_token(client)
    client.post(f"/enforce/cases/{case.id}/approve", data={"csrf_token": token, "decision": "pass"})
    assert _state(case) == CaseState.PUBLISHED
    hub = client.get("/enforce/").get_data(as_text=True)
    assert "Typical cases" in hub or "典型案例" in hub


def test_another_countys_office_cannot_see_the_case(client, scene, make_world):
    world, source, problem, *_ = scene
    case = services.prepare(None, problem, "扬尘案", _text(world, source), world.county_office)
    other = make_world()
    sign_in(client, other.county_office)
    assert client.get(f"/enforce/cases/{case.id}").status_code == 403
    assert client.get(f"/enforce/cases/new?problem={problem.id}").status_code == 403
    sign_in(client, world.supervisor)
    assert client.get("/enforce/cases/").status_code == 403


def test_the_demo_has_a_published_case_and_a_draft(client, db_session):
    demo = list(db.session.scalars(sa.select(TypicalCase).order_by(TypicalCase.id)))
    assert [c.state for c in demo[:2]] == [CaseState.PUBLISHED, CaseState.DRAFT]
    published = demo[0]
    assert anonymise.LENGTH_MIN <= published.length <= anonymise.LENGTH_MAX
    for secret in ("恒通建材", "马国强", "13899887766", "新B12345", "延安北路198号"):
        assert secret not in published.text and secret not in published.title
    steps = [s[0] for s in _steps(published)]
    assert steps == ["prepared", "edited", "edited", "submitted", "reviewed", "approved"]
    assert len({s[1] for s in _steps(published)} - {None}) >= 2
    page = client.get(f"/enforce/public/cases/{published.id}").get_data(as_text=True)
    assert "某建材公司" in page and "恒通建材" not in page and "马国强" not in page
