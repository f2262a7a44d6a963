"""Problems on their way up the grid, through the services and over HTTP (issue 4): the loop,
who may act, refusals that change nothing, deadlines on China's calendar, the audit chain,
two people at once, inboxes, notifications and the public complaint form.

The state machine itself is tested as a table in tests/test_escalation.py."""

import io
import re
import threading
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from desk.queries import home_counts
from evidence.models import Photo
from evidence.services import photo_store
from extensions import db
from grid import audit
from grid import queries as grid_queries
from grid import services as grid_services
from grid.access import load_identity
from grid.chain import link_hash
from grid.demo import point_in
from grid.errors import Conflict, ServiceError
from grid.models import Membership, Role, User, membership_cover, point
from grid.time import local_date, local_today, local_zone, now_local, to_utc
from notify.models import Notification
from problems import labels, queries, services
from problems.escalation import Capacity, Event, State
from problems.models import Problem, ProblemEvent, problem_photo
from problems.services import event_record
from sources.models import Source
from tests import photo_corpus
from tests.conftest import DEMO_PASSWORD, csrf_token

TOWN = "652301101000"  # 三工镇 in 昌吉市; cun supervises its first village


def person(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def subhead() -> User:
    """The township's sub-grid head who covers the first village."""
    town = grid_queries.grid_by_code(TOWN)
    return db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.grid_id == town.id, Membership.role == Role.SUBHEAD)
        .order_by(Membership.id)
        .limit(1)
    )


def village():
    return grid_queries.children(grid_queries.grid_by_code(TOWN))[0]


def photo(seed: int = 1) -> bytes:
    return photo_corpus.jpeg(photo_corpus.realistic(480, 360, seed))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=local_zone())


def report(now: datetime | None = None, **fields) -> Problem:
    """A problem the village supervisor `cun` recorded on patrol, in the village's hands."""
    where = village()
    lon, lat = point_in(where)
    values = {
        "origin": "patrol",
        "reporter_id": person("cun").id,
        "grid_id": where.id,
        "found_at": to_utc(now) if now else datetime.now(),
        "location": point(lon, lat),
        "category": "dust",
        "severity": "moderate",
        "description": "工地裸土未苫盖",
        **fields,
    }
    problem = Problem(**values)
    db.session.add(problem)
    db.session.flush()
    services.start(problem, State.VILLAGE, person("cun"), Capacity.VILLAGE, now=now)
    return problem


def act(problem: Problem, who: str | User, event: str, now: datetime | None = None, **fields):
    user = person(who) if isinstance(who, str) else who
    action = services.Act(event=event, version=problem.version, **fields)
    return services.act(problem, user, action, photo_store(), now=now)


def due(days: int = 5) -> date:
    return local_today() + timedelta(days=days)


def events(problem: Problem) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(ProblemEvent.event)
            .where(ProblemEvent.problem_id == problem.id)
            .order_by(ProblemEvent.seq)
        )
    )


def told(username: str, problem: Problem) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Notification.kind)
            .where(
                Notification.user_id == person(username).id,
                Notification.subject == f"problem:{problem.id}",
            )
            .order_by(Notification.id)
        )
    )


def in_inbox(username: str, problem: Problem) -> bool:
    return problem.id in {p.id for p in queries.inbox(person(username).id)}


# --- the loop through the services ---------------------------------------------------------------


def test_the_whole_loop(db_session):
    problem = report()
    assert problem.state == "village" and in_inbox("cun", problem)
    act(problem, "cun", "escalate")
    assert problem.state == "township" and problem.deadline_at is not None
    assert in_inbox("sangong", problem) and in_inbox(subhead().username, problem)
    assert not in_inbox("cun", problem) and not in_inbox("changji", problem)
    assert told("sangong", problem) == ["problem.township"]
    act(problem, "sangong", "approve")
    assert problem.state == "county" and in_inbox("changji", problem)
    assert not in_inbox("sangong", problem)
    act(problem, "changji", "assign", assignee_login="zhifa", due_date=due(5))
    assert problem.state == "rectifying" and problem.rectify_due == due(5)
    assert problem.assignee_user_id == person("zhifa").id and in_inbox("zhifa", problem)
    assert told("zhifa", problem) == ["problem.rectifying"]
    act(problem, "zhifa", "submit", comment="已苫盖", photos=[photo(1)])
    assert problem.state == "rechecking" and in_inbox("changji", problem)
    act(problem, "changji", "recheck_fail", comment="仍有裸土", due_date=due(3))
    assert problem.state == "rectifying" and problem.rectify_due == due(3)
    assert in_inbox("zhifa", problem) and told("zhifa", problem)[-1] == "problem.rectifying"
    act(problem, "zhifa", "submit", comment="已全部苫盖", photos=[photo(2)])
    act(problem, "changji", "recheck_pass")
    assert problem.state == "closed" and problem.deadline_at is None
    assert not any(in_inbox(u, problem) for u in ("cun", "sangong", "changji", "zhifa"))
    assert told("cun", problem)[-1] == "problem.closed"  # the reporter hears how it ended
    assert events(problem) == [
        "report",
        "escalate",
        "approve",
        "assign",
        "submit",
        "recheck_fail",
        "submit",
        "recheck_pass",
    ]
    photos = queries.problem_photos(problem.id)  # (photo, the step it came with)
    assert len(photos) == 2 and all(event_id for _photo, event_id in photos)
    assert audit.verify("problem", [problem.id])[0] is None
    month = (to_utc(now_local()) - timedelta(days=1),) * 1
    first, last = month[0], month[0] + timedelta(days=2)
    assert queries.failed_rechecks(problem.county_id, first, last) >= 1  # scoring item 6


def test_the_village_resolves_on_the_spot_with_an_after_photo(db_session):
    problem = report()
    with pytest.raises(ServiceError, match="照片"):
        act(problem, "cun", "resolve", comment="已制止")
    act(problem, "cun", "resolve", comment="已制止", photos=[photo(3)])
    assert problem.state == "resolved" and events(problem)[-1] == "resolve"


def test_send_back_and_escalate_again(db_session):
    problem = report()
    act(problem, "cun", "escalate")
    with pytest.raises(ServiceError, match="意见"):
        act(problem, "sangong", "send_back")
    act(problem, "sangong", "send_back", comment="请补充现场照片和责任主体")
    assert problem.state == "returned" and in_inbox("cun", problem)
    assert told("cun", problem)[-1] == "problem.returned"
    act(problem, "cun", "escalate", comment="已补充")
    assert problem.state == "township"


def test_joint_enforcement_and_referral(db_session):
    problem = report()
    act(problem, "cun", "escalate")
    act(problem, "sangong", "approve")
    act(problem, "changji", "refer", comment="涉及两县")
    assert problem.state == "prefecture" and in_inbox("zhou", problem)
    act(problem, "zhou", "joint", lead_department="州生态环境局", due_date=due(10))
    assert problem.state == "rectifying" and problem.lead_department == "州生态环境局"
    assert in_inbox("changji", problem)  # no person assigned: the county follows it up


def test_the_prefecture_sees_comments_and_orders_supervision(db_session):
    problem = report()
    act(problem, "cun", "escalate")
    act(problem, "zhou", "supervise", comment="请于三日内处理")
    assert problem.supervised and problem.state == "township"
    assert "problem.supervise" in told("sangong", problem)
    act(problem, "sangong", "comment", comment="已安排")
    assert "problem.comment" in told("cun", problem)  # lower levels see what upper ones say
    with pytest.raises(ServiceError, match="无权"):
        act(problem, "sangong", "supervise", comment="督办")


def test_a_public_complaint_waits_for_confirmation(db_session):
    lon, lat = point_in(village())
    problem = services.submit_complaint(
        services.Complaint(lon=lon, lat=lat, category="straw_burning", description="有人烧秸秆"),
        photo_store(),
    )
    assert problem.grid_id == village().id and problem.priority == "low"
    assert problem.state == "submitted" and problem.reporter_id is None
    assert in_inbox("cun", problem) and in_inbox("sangong", problem)
    act(problem, "cun", "confirm")
    assert problem.state == "village" and problem.priority == "normal"


# --- who may act ----------------------------------------------------------------------------------

ACTORS = ["cun", "sangong", "subhead", "changji", "zhifa", "zhou", "admin"]
# (state the problem is brought to, event, who may fire it)
WHO_MAY = [
    ("village", "escalate", {"cun"}),
    ("township", "approve", {"sangong", "subhead"}),
    ("township", "send_back", {"sangong", "subhead"}),
    ("county", "assign", {"changji"}),
    ("county", "refer", {"changji"}),
    ("rectifying", "submit", {"zhifa", "changji"}),
    ("rechecking", "recheck_pass", {"changji"}),
    ("rechecking", "recheck_fail", {"changji"}),
    ("township", "supervise", {"zhou"}),
]
FIELDS = {"comment": "意见", "due_date": None, "photos": None, "assignee_login": "zhifa"}
SAID = {
    "escalate": lambda: "已上报乡镇，等待乡镇审核。",
    "approve": lambda: "已同意上报县（市），等待县（市）交办。",
    "send_back": lambda: "已退回村级，等待村级重新处理。",
    "assign": lambda: f"已交办给{person('zhifa').name}，整改期限：{due()}（含当日）。",
    "refer": lambda: "已报请州（市）协调，等待州（市）处理。",
    "submit": lambda: "已提交整改，等待复查。",
    "recheck_pass": lambda: "复查通过，问题已整改办结。",
    "recheck_fail": lambda: f"复查不通过，已退回重新整改，整改期限：{due()}（含当日）。",
    "supervise": lambda: "已下达督办，已通知相关责任人。",
}
ROUTE_TO = {
    "village": [],
    "township": [("cun", "escalate")],
    "county": [("cun", "escalate"), ("sangong", "approve")],
    "rectifying": [("cun", "escalate"), ("sangong", "approve"), ("changji", "assign")],
    "rechecking": [
        ("cun", "escalate"),
        ("sangong", "approve"),
        ("changji", "assign"),
        ("zhifa", "submit"),
    ],
}


def bring(problem: Problem, state: str) -> None:
    for who, event in ROUTE_TO[state]:
        act(
            problem,
            who,
            event,
            comment="意见",
            assignee_login="zhifa",
            due_date=due(),
            photos=[photo(9)] if event == "submit" else [],
        )
    assert problem.state == state


def login(client, user: User) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    token = csrf_token(client)
    response = client.post(
        "/login", data={"login": user.username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code


CASES = [(s, e, a, a in allowed) for s, e, allowed in WHO_MAY for a in ACTORS]


@pytest.mark.parametrize(
    ("state", "event", "actor", "allowed"),
    CASES,
    ids=[f"{e}-{a}" for _s, e, a, _ok in CASES],
)
def test_who_may_fire_what_over_http(client, state, event, actor, allowed):
    """A village supervisor cannot approve, a township head cannot assign, and so on: a refusal
    says why and changes nothing."""
    problem = report()
    bring(problem, state)
    version, count = problem.version, len(events(problem))
    user = subhead() if actor == "subhead" else person(actor)
    login(client, user)
    form = {
        "csrf_token": csrf_token(client),
        "event": event,
        "version": str(version),
        "comment": "意见",
        "assignee_login": "zhifa",
        "due_date": due().isoformat(),
        "photos": (io.BytesIO(photo(4)), "after.jpg", "image/jpeg"),
    }
    response = client.post(
        f"/problems/{problem.id}/act",
        data=form,
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    if actor in ("zhifa",) and state not in ("rectifying", "rechecking"):
        assert response.status_code == 403  # not his problem (yet): he does not see it
        return
    assert response.status_code == 200
    db.session.expire_all()
    if allowed:
        assert SAID[event]() in page and len(events(problem)) == count + 1
        assert "已完成。" not in page  # not a bare "done" that says nothing
    else:
        assert "无权" in page or "当前环节" in page, page[:2000]
        assert problem.version == version and len(events(problem)) == count


def test_the_buttons_offered_are_those_allowed(client):
    problem = report()
    bring(problem, "township")
    login(client, person("sangong"))
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    assert 'value="approve"' in page and 'value="send_back"' in page
    assert 'value="assign"' not in page
    login(client, person("cun"))
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    assert 'value="approve"' not in page and 'value="comment"' in page


def test_every_step_says_what_it_did(client):
    """No bare "done": each step's message says what was done and what comes next, in
    Chinese, with its placeholders filled (issue 10, item 10)."""
    assert set(labels.DONE) == {e.value for e in Event}
    problem = report()
    login(client, person("cun"))
    response = client.post(
        f"/problems/{problem.id}/act",
        data={
            "csrf_token": csrf_token(client),
            "event": "comment",
            "version": str(problem.version),
            "comment": "已联系施工方",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "已添加意见。" in page and "已完成。" not in page


def test_the_rectification_deadline_reads_the_same_everywhere(client):
    """One deadline, one wording: the day set at assignment, that day included, on the page's
    deadline line, on the assignment and in the timeline; the instant kept is unchanged (the
    end of that day, local midnight)."""
    problem = report()
    bring(problem, "rectifying")
    day = due()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), local_zone())
    assert problem.rectify_due == day and problem.deadline_at == to_utc(end)
    said = f"整改期限：{day}（含当日）"
    login(client, person("zhifa"))
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    assert page.count(said) == 3, page  # the deadline line, the assignment, the timeline
    assert "须于" not in page and f"{day + timedelta(days=1)} 00:00" not in page
    inbox = client.get("/problems/inbox").get_data(as_text=True)
    assert said in inbox and "须于" not in inbox
    login(client, person("changji"))
    listed = client.get("/problems/?state=rectifying").get_data(as_text=True)
    assert f"{day}（含当日）" in listed


def test_a_deadline_within_a_day_shows_its_time(client):
    """The township's 24 hours end at a time of day: shown with it, in the same wording."""
    problem = report(now=local(2025, 9, 30, 18))
    act(problem, "cun", "escalate", now=local(2025, 9, 30, 18, 30))
    login(client, person("sangong"))
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    assert "办理期限：2025-10-01 18:30" in page and "须于" not in page


def test_the_open_filter_means_not_yet_closed(client):
    """The list's "Open" filter is the problems not yet closed (未办结), not the verb 打开."""
    login(client, person("changji"))
    page = client.get("/problems/").get_data(as_text=True)
    assert ">未办结</a>" in page and "打开" not in page


def test_a_department_officer_is_shown_where_their_work_is(client):
    """Without a post in the grid, a person assigned rectifications is pointed to their inbox,
    not told to ask an administrator; the hint stays for people with neither."""
    problem = report()
    bring(problem, "rectifying")
    login(client, person("zhifa"))
    page = client.get("/").get_data(as_text=True)
    assert "您的工作来自交办给本部门的问题，见“我的待办”。" in page
    assert 'href="/problems/inbox"' in page and "管理员" not in page
    nobody = grid_services.create_user("nopost", "无岗位", DEMO_PASSWORD)
    db.session.flush()
    login(client, nobody)
    page = client.get("/").get_data(as_text=True)
    assert "请联系系统管理员" in page and "交办给本部门" not in page


@pytest.mark.parametrize("located", [True, False], ids=["position", "none"])
def test_a_step_photo_keeps_the_position_sent_with_it(client, located):
    """The problem page sends the phone's position with a step's photos (static/js/locate.js);
    without one (the location refused) the step is taken and the photo flagged 无定位."""
    problem = report()
    act(problem, "cun", "escalate")
    act(problem, "sangong", "approve")
    act(problem, "changji", "assign", assignee_login="zhifa", due_date=due())
    lon, lat = point_in(village())
    login(client, person("zhifa"))
    place = {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "accuracy": "9"} if located else {}
    response = client.post(
        f"/problems/{problem.id}/act",
        data={
            "csrf_token": csrf_token(client),
            "event": "submit",
            "version": str(problem.version),
            "comment": "已整改",
            "photos": (io.BytesIO(photo(7)), "after.jpg", "image/jpeg"),
            **place,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    kept = db.session.scalar(
        sa.select(Photo)
        .join(problem_photo, problem_photo.c.photo_id == Photo.id)
        .where(problem_photo.c.problem_id == problem.id)
    )
    flags = {f["code"] for f in kept.flags}
    if located:
        assert (kept.fix_lat, kept.fix_lon, kept.fix_accuracy_m) == pytest.approx((lat, lon, 9))
        assert kept.position is not None and "no_location" not in flags
    else:
        assert kept.fix_lat is None and kept.position is None and "no_location" in flags


# --- bad input: a clear message, nothing changed -------------------------------------------------


def snapshot(problem: Problem) -> tuple:
    db.session.expire_all()
    photos = db.session.scalar(
        sa.select(sa.func.count(problem_photo.c.photo_id)).where(
            problem_photo.c.problem_id == problem.id
        )
    )
    notes = db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.subject == f"problem:{problem.id}"
        )
    )
    return (problem.state, problem.version, problem.last_event_hash, len(events(problem)), photos,
            notes)  # fmt: skip


def post_act(client, problem, **form):
    data = {"csrf_token": csrf_token(client), "version": str(problem.version), **form}
    return client.post(
        f"/problems/{problem.id}/act",
        data=data,
        content_type="multipart/form-data",
        follow_redirects=True,
    )


BAD = {
    "stale version": (
        lambda p: {"event": "approve", "version": str(p.version - 1)},
        "已有他人先办理了此问题",
    ),
    "no version": (lambda p: {"event": "approve", "version": "x"}, "「版本」应为 0 到"),
    "unknown event": (lambda p: {"event": "teleport"}, "未知的操作"),
    "missing comment": (lambda p: {"event": "send_back", "comment": "  "}, "请填写意见"),
    "not an image": (
        lambda p: {
            "event": "resolve",
            "comment": "已处理",
            "photos": (io.BytesIO(b"%PDF-1.4 not a photo"), "after.jpg", "image/jpeg"),
        },
        "有一张照片未被接受",
    ),
    "malformed date": (
        lambda p: {"event": "comment", "comment": "x", "due_date": "31/12/2026"},
        "YYYY-MM-DD",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_and_changes_nothing(client, case):
    problem = report()
    bring(problem, "township")
    login(client, person("sangong"))
    before = snapshot(problem)
    form, message = BAD[case]
    response = post_act(client, problem, **form(problem))
    assert response.status_code in (200, 400)  # a refused rule, or input that cannot be read
    assert message in response.get_data(as_text=True)
    assert snapshot(problem) == before


def test_an_unknown_state_is_refused_and_changes_nothing(client):
    problem = report()
    db.session.execute(sa.update(Problem).where(Problem.id == problem.id).values(state="limbo"))
    db.session.expire_all()
    login(client, person("cun"))
    before = snapshot(problem)
    response = post_act(client, problem, event="escalate")
    assert "本版本无法识别的状态" in response.get_data(as_text=True)
    assert snapshot(problem) == before


def test_an_unknown_assignee_and_a_past_deadline_are_refused(db_session):
    problem = report()
    bring(problem, "county")
    before = snapshot(problem)
    with pytest.raises(ServiceError, match="没有该登录名"):
        act(problem, "changji", "assign", assignee_login="nobody-here", due_date=due())
    with pytest.raises(ServiceError, match="不能早于今天"):
        act(problem, "changji", "assign", assignee_department="城管局", due_date=due(-1))
    with pytest.raises(ServiceError, match="整改期限"):
        act(problem, "changji", "assign", assignee_department="城管局")
    assert snapshot(problem) == before


def test_escalating_needs_the_basic_facts(db_session):
    problem = report()
    problem.location = None
    db.session.flush()
    with pytest.raises(ServiceError, match="类别、描述和位置"):
        act(problem, "cun", "escalate")
    assert problem.state == "village"


def test_a_closed_problem_takes_no_more_steps(db_session):
    problem = report()
    act(problem, "cun", "resolve", comment="已制止", photos=[photo(5)])
    with pytest.raises(ServiceError, match="已办结"):
        act(problem, "cun", "comment", comment="再看看")


# --- deadlines on China's official calendar ------------------------------------------------------


def test_county_deadline_across_national_day_and_lateness_recorded(db_session):
    """Approved on Tuesday 30 September 2025 at 15:00, before the National Day and Mid-Autumn
    holiday (1-8 October): one working day is due on Thursday 9 October at 15:00. Missing it is
    recorded once (scoring item 5), and the late assignment carries the mark too."""
    problem = report(now=local(2025, 9, 29, 10))
    act(problem, "cun", "escalate", now=local(2025, 9, 29, 11))
    act(problem, "sangong", "approve", now=local(2025, 9, 30, 15))
    assert problem.deadline_at == to_utc(local(2025, 10, 9, 15))
    assert services.check_deadlines(now=to_utc(local(2025, 10, 9, 14, 59))) == 0
    assert services.check_deadlines(now=to_utc(local(2025, 10, 9, 15, 1))) >= 1
    assert services.check_deadlines(now=to_utc(local(2025, 10, 9, 16))) == 0  # once
    assert events(problem)[-1] == "deadline_missed"
    assert "problem.overdue" in told("changji", problem)
    act(
        problem,
        "changji",
        "assign",
        now=local(2025, 10, 10, 9),
        assignee_department="城管局",
        due_date=date(2025, 10, 20),
    )
    last = db.session.scalar(
        sa.select(ProblemEvent)
        .where(ProblemEvent.problem_id == problem.id)
        .order_by(ProblemEvent.seq.desc())
        .limit(1)
    )
    assert last.data["late"] and last.data["late_state"] == "county"
    october = (to_utc(local(2025, 10, 1)), to_utc(local(2025, 11, 1)))
    assert queries.late_assignments(problem.county_id, *october) >= 1
    assert audit.verify("problem", [problem.id])[0] is None


def test_an_adjusted_working_saturday_counts(db_session):
    """Approved on Friday 10 October 2025 at 16:00: Saturday 11 October is an adjusted working
    day (调休), so the county's day ends then, not on Monday."""
    problem = report(now=local(2025, 10, 10, 9))
    act(problem, "cun", "escalate", now=local(2025, 10, 10, 10))
    act(problem, "sangong", "approve", now=local(2025, 10, 10, 16))
    assert problem.deadline_at == to_utc(local(2025, 10, 11, 16))


def test_the_township_has_24_clock_hours(db_session):
    problem = report(now=local(2025, 9, 30, 18))
    act(problem, "cun", "escalate", now=local(2025, 9, 30, 18, 30))
    assert problem.deadline_at == to_utc(local(2025, 10, 1, 18, 30))


def test_overdue_problems_are_marked_on_lists(client):
    problem = report(now=local(2025, 9, 29, 10))
    act(problem, "cun", "escalate", now=local(2025, 9, 29, 11))
    login(client, person("sangong"))
    page = client.get("/problems/inbox").get_data(as_text=True)
    assert f"/patrol/problems/{problem.id}" in page and "overdue" in page
    listed = client.get("/problems/?overdue=1").get_data(as_text=True)
    assert f"/patrol/problems/{problem.id}" in listed


# --- the audit chain ------------------------------------------------------------------------------


def chain(problem: Problem) -> list[ProblemEvent]:
    return list(
        db.session.scalars(
            sa.select(ProblemEvent)
            .where(ProblemEvent.problem_id == problem.id)
            .order_by(ProblemEvent.seq)
        )
    )


def test_audit_verify_passes_an_intact_log(runner):
    problem = report()
    bring(problem, "rectifying")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    one = runner.invoke(args=["audit", "verify", "--problem", str(problem.id)])
    assert one.exit_code == 0, one.output
    assert f"Event log intact: {len(chain(problem))} event(s) checked." in one.output


def test_audit_verify_catches_an_edited_event_row(runner):
    problem = report()
    bring(problem, "rectifying")
    edited = chain(problem)[1]
    db.session.execute(
        sa.update(ProblemEvent).where(ProblemEvent.id == edited.id).values(comment="改过的意见")
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"problem {problem.id}, event #{edited.seq}" in result.output
    assert "content was changed" in result.output


def test_audit_verify_catches_a_rehashed_row_and_a_deleted_one(runner):
    problem = report()
    bring(problem, "rectifying")
    rows = chain(problem)
    forged = rows[1]
    forged.comment = "伪造"
    forged.hash = link_hash(event_record(forged))  # consistent in itself: the next link breaks
    db.session.flush()
    result = runner.invoke(args=["audit", "verify", "--problem", str(problem.id)])
    assert result.exit_code == 1 and f"event #{rows[2].seq}" in result.output
    assert "does not follow" in result.output

    gap = report()
    bring(gap, "county")
    db.session.execute(sa.delete(ProblemEvent).where(ProblemEvent.id == chain(gap)[1].id))
    result = runner.invoke(args=["audit", "verify", "--problem", str(gap.id)])
    assert result.exit_code == 1 and "event #2: an event is missing" in result.output

    cut = report()
    bring(cut, "county")
    db.session.execute(sa.delete(ProblemEvent).where(ProblemEvent.id == chain(cut)[-1].id))
    result = runner.invoke(args=["audit", "verify", "--problem", str(cut.id)])
    assert result.exit_code == 1 and "last event is missing" in result.output


def test_check_deadlines_command(runner):
    problem = report(now=local(2025, 9, 29, 10))
    act(problem, "cun", "escalate", now=local(2025, 9, 29, 11))
    result = runner.invoke(args=["problems", "check-deadlines"])
    assert result.exit_code == 0 and "newly overdue" in result.output
    assert events(problem)[-1] == "deadline_missed"
    again = runner.invoke(args=["problems", "check-deadlines"])
    assert "Deadlines checked: 0 newly overdue." in again.output


# --- two people at once ---------------------------------------------------------------------------


def township_problem(app) -> int:
    """A problem waiting for the township, committed for real in the live database."""
    with app.app_context():
        problem = report()
        act(problem, "cun", "escalate")
        db.session.commit()
        problem_id = problem.id
        db.session.remove()
    return problem_id


def test_two_approvals_at_once_one_wins(live_app):
    """Two township heads press "approve" on the same problem in the same instant, each in its
    own thread and database transaction: exactly one wins, the other is told; one event."""
    problem_id = township_problem(live_app)
    with live_app.app_context():
        heads = [person("sangong").id, subhead().id]
        version = db.session.get(Problem, problem_id).version
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(user_id: int) -> None:
        with live_app.app_context():
            problem = db.session.get(Problem, problem_id)
            user = db.session.get(User, user_id)
            action = services.Act(event="approve", version=problem.version)
            barrier.wait()
            try:
                services.act(problem, user, action, photo_store())
                db.session.commit()
                outcomes.append("won")
            except Conflict as exc:
                db.session.rollback()
                assert "他人" in str(exc)
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(uid,)) for uid in heads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["lost", "won"]
    with live_app.app_context():
        problem = db.session.get(Problem, problem_id)
        assert problem.state == "county" and problem.version == version + 1
        assert events(problem).count("approve") == 1
        assert audit.verify("problem", [problem_id])[0] is None


def test_two_clients_approving_at_once_one_wins(live_app):
    """The same race over HTTP: two signed-in clients post the form they both loaded."""
    problem_id = township_problem(live_app)
    with live_app.app_context():
        heads = [person("sangong"), subhead()]
        version = db.session.get(Problem, problem_id).version
    clients = []
    for user in heads:
        client = live_app.test_client()
        login(client, user)
        clients.append((client, csrf_token(client, f"/patrol/problems/{problem_id}")))
    barrier = threading.Barrier(2)
    pages: list[str] = []

    def approve(client, token) -> None:
        barrier.wait()
        response = client.post(
            f"/problems/{problem_id}/act",
            data={"csrf_token": token, "event": "approve", "version": str(version)},
            follow_redirects=True,
        )
        pages.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=approve, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(pages) == 2
    assert sum(SAID["approve"]() in page for page in pages) == 1
    assert sum("他人" in page for page in pages) == 1
    with live_app.app_context():
        assert events(db.session.get(Problem, problem_id)).count("approve") == 1


# --- inboxes, home, notifications -----------------------------------------------------------------


def test_the_home_page_counts_what_waits(client):
    login(client, person("sangong"))
    before = queries.inbox_count(person("sangong").id)
    problem = report()
    act(problem, "cun", "escalate")
    assert queries.inbox_count(person("sangong").id) == before + 1
    page = client.get("/").get_data(as_text=True)
    assert str(before + 1) in page and "/problems/inbox" in page
    fragment = client.get("/problems/inbox", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert f"/patrol/problems/{problem.id}" in fragment.get_data(as_text=True)


def test_inbox_cards_tell_problems_apart_and_say_the_next_step(client):
    """Each card carries its source (or village), category, day found, what was seen and what
    this person is to do (issue 10): not three cards reading "散乱污企业 #8 / #7 / #6"."""
    source = db.session.scalar(
        sa.select(Source).where(Source.grid_id == village().id).order_by(Source.id).limit(1)
    )
    with_source = report(source_id=source.id, description="东侧围挡倒塌，裸土未苫盖")
    without = report(description="河道边有新倒的建筑垃圾", category="garbage_pile")
    login(client, person("cun"))
    page = client.get("/problems/inbox").get_data(as_text=True)
    cards = {
        problem.id: page[page.index(f"/patrol/problems/{problem.id}") :].split("</li>")[0]
        for problem in (with_source, without)
    }
    found_on = local_date(with_source.found_at).isoformat()  # stored in UTC, shown local
    assert source.name in cards[with_source.id]
    assert "东侧围挡倒塌" in cards[with_source.id] and "发现于" in cards[with_source.id]
    assert found_on in cards[with_source.id]
    assert village().name in cards[without.id] and "河道边有新倒的建筑垃圾" in cards[without.id]
    for card in cards.values():
        assert "待您办理：就地解决，或上报乡镇（街道）" in card
    escalated = report()
    act(escalated, "cun", "escalate")
    login(client, person("sangong"))
    page = client.get("/problems/inbox").get_data(as_text=True)
    card = page[page.index(f"/patrol/problems/{escalated.id}") :].split("</li>")[0]
    assert "待您办理：办结、退回村级，或同意上报县级" in card


def test_assigning_picks_a_person_and_a_department_from_lists(client):
    """交办 offers the people a rectification can go to and the county's departments: nobody
    types a log-in name or a mobile number from memory (issue 10)."""
    problem = report()
    act(problem, "cun", "escalate")
    act(problem, "sangong", "approve")
    earlier = report()
    act(earlier, "cun", "escalate")
    act(earlier, "sangong", "approve")
    act(earlier, "changji", "assign", assignee_department="区住建局", due_date=due(5))
    login(client, person("changji"))
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    form = page[page.index('name="event" value="assign"') :].split("</form>")[0]
    people = re.findall(r'<option value="([^"]+)">([^<]+)</option>', form.split("<datalist")[0])
    logins = [login for login, _label in people]
    assert "zhifa" in logins  # a department officer: no grid post, still to be found
    assert "cun" in logins  # a post in the county
    assert logins.index("zhifa") < logins.index("cun")
    assert "select" in form and 'name="assignee_login"' in form
    departments = re.findall(r'<option value="([^"]+)">', form.split("<datalist")[1])
    assert departments[0] == "区住建局"  # what the county used before comes first
    assert "生态环境局" in departments
    response = client.post(
        f"/problems/{problem.id}/act",
        data={
            "csrf_token": csrf_token(client, f"/patrol/problems/{problem.id}"),
            "event": "assign",
            "version": problem.version,
            "assignee_login": "zhifa",
            "due_date": due(5).isoformat(),
        },
    )
    assert response.status_code == 303
    db.session.refresh(problem)
    assert problem.state == "rectifying" and problem.assignee_user_id == person("zhifa").id


def test_the_inbox_puts_the_most_pressing_first(db_session):
    late = report(now=local(2025, 9, 29, 10))
    act(late, "cun", "escalate", now=local(2025, 9, 29, 11))
    fresh = report()
    act(fresh, "cun", "escalate")
    ids = [p.id for p in queries.inbox(person("sangong").id)]
    assert ids.index(late.id) < ids.index(fresh.id)


def test_notifications_list_and_mark_read(client):
    problem = report()
    act(problem, "cun", "escalate")
    login(client, person("sangong"))
    page = client.get("/notifications").get_data(as_text=True)
    assert "有一个问题等待您审核" in page and f"/patrol/problems/{problem.id}" in page
    response = client.post(
        "/notifications/read", data={"csrf_token": csrf_token(client)}, follow_redirects=True
    )
    assert response.status_code == 200
    unread = db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.user_id == person("sangong").id, Notification.read_at.is_(None)
        )
    )
    assert unread == 0


# --- the public complaint form --------------------------------------------------------------------


def complaint_form(client, **fields):
    lon, lat = point_in(village())
    data = {
        "csrf_token": csrf_token(client, "/complaint"),
        "lat": str(lat),
        "lon": str(lon),
        "category": "dust",
        "description": "路边工地扬尘很大",
        "contact": "13800000000",
        **fields,
    }
    return client.post("/complaint", data=data, content_type="multipart/form-data")


def test_anyone_may_complain_and_it_reaches_the_village(client):
    response = complaint_form(client, photos=(io.BytesIO(photo(6)), "dust.jpg", "image/jpeg"))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    problem = db.session.scalar(sa.select(Problem).order_by(Problem.id.desc()).limit(1))
    assert problem.origin == "complaint" and problem.grid_id == village().id
    assert problem.complainant_contact == "13800000000"
    assert str(problem.id) in response.get_data(as_text=True)
    assert village().name in response.get_data(as_text=True)
    assert len(queries.problem_photos(problem.id)) == 1
    assert "problem.submitted" in told("cun", problem)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lat": "", "lon": ""}, "请在地图上标出位置"),
        ({"lat": "10.0", "lon": "10.0"}, "不在本网格范围内"),
        ({"category": "ufo"}, "请选择问题类别"),
        ({"description": " "}, "请描述问题"),
        ({"photos": b"GIF89a not a photo at all"}, "有一张照片未被接受"),
    ],
)
def test_a_bad_complaint_is_refused_and_changes_nothing(client, fields, message):
    before = db.session.scalar(sa.select(sa.func.count(Problem.id)))
    if "photos" in fields:  # a fresh file each time: the parameters are shared by backends
        fields = {"photos": (io.BytesIO(fields["photos"]), "a.jpg", "image/jpeg")}
    response = complaint_form(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Problem.id))) == before


def test_complaints_are_rate_limited(client):
    statuses = [complaint_form(client).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


# --- offices enter problems -----------------------------------------------------------------------


def test_a_county_office_enters_a_problem_at_its_level(client):
    login(client, person("changji"))
    lon, lat = point_in(village())
    response = client.post(
        "/problems/new",
        data={
            "csrf_token": csrf_token(client),
            "category": "coal_boiler",
            "severity": "serious",
            "description": "来电反映锅炉冒黑烟",
            "lat": str(lat),
            "lon": str(lon),
        },
    )
    assert response.status_code == 303
    problem = db.session.scalar(sa.select(Problem).order_by(Problem.id.desc()).limit(1))
    assert problem.origin == "office" and problem.state == "county"
    assert in_inbox("changji", problem)


def test_an_office_cannot_enter_a_problem_outside_its_area(client):
    login(client, person("changji"))
    other = grid_queries.children(
        grid_queries.children(grid_queries.grid_by_code("652328000000"), include_key=False)[0]
    )[0]
    lon, lat = point_in(other)
    before = db.session.scalar(sa.select(sa.func.count(Problem.id)))
    response = client.post(
        "/problems/new",
        data={
            "csrf_token": csrf_token(client),
            "category": "dust",
            "severity": "minor",
            "description": "x",
            "lat": str(lat),
            "lon": str(lon),
        },
    )
    assert response.status_code == 400 and "辖区内" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Problem.id))) == before


# --- who finds what in their inbox ------------------------------------------------------------


def county_subhead() -> User | None:
    """A sub-grid head of 昌吉市 who covers 三工镇."""
    town = grid_queries.grid_by_code(TOWN)
    return db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(membership_cover, membership_cover.c.membership_id == Membership.id)
        .where(
            membership_cover.c.grid_id == town.id,
            Membership.grid_id == town.parent_id,
            Membership.role == Role.SUBHEAD,
        )
        .order_by(Membership.id)
        .limit(1)
    )


def counts_agree(user: User) -> int:
    """The inbox, its count and the home page's count say the same; returns it."""
    items = queries.inbox(user.id)
    posts = load_identity(user.id, local_today())[1].posts
    assert queries.inbox_count(user.id) == len(items)
    assert {e.endpoint: n for e, n in home_counts(user.id, posts)}["problems.inbox"] == len(items)
    return len(items)


def test_every_kind_of_post_finds_what_waits_for_it(db_session):
    covering = county_subhead()
    assert covering is not None, "the demo has a county sub-grid head over 三工镇"
    people = [covering, *(person(u) for u in ("cun", "sangong", "changji", "zhifa", "zhou"))]
    before = {u.id: counts_agree(u) for u in people}

    to_assign = report()
    bring(to_assign, "county")
    for_department = report()
    bring(for_department, "county")
    act(for_department, "changji", "assign", assignee_department="住建局", due_date=due())
    for_zhifa = report()
    bring(for_zhifa, "rectifying")

    assert in_inbox(covering.username, to_assign) and in_inbox("changji", to_assign)
    assert not in_inbox("sangong", to_assign) and not in_inbox("zhou", to_assign)
    # a department has no account: the county follows its rectification; a person, himself
    assert in_inbox("changji", for_department) and in_inbox(covering.username, for_department)
    assert in_inbox("zhifa", for_zhifa) and not in_inbox("changji", for_zhifa)
    after = {u.id: counts_agree(u) for u in people}
    assert after[covering.id] == before[covering.id] + 2
    assert after[person("changji").id] == before[person("changji").id] + 2
    assert after[person("zhifa").id] == before[person("zhifa").id] + 1
    assert after[person("cun").id] == before[person("cun").id]


def test_recheck_by_the_reporter_is_in_the_reporters_inbox(db_session, monkeypatch):
    monkeypatch.setitem(current_app.config, "RECHECK_BY", "reporter")
    problem = report()
    bring(problem, "rechecking")
    assert in_inbox("cun", problem)
    assert not in_inbox("changji", problem) and not in_inbox("zhifa", problem)
    counts_agree(person("cun"))
    act(problem, "cun", "recheck_pass")
    assert problem.state == "closed" and not in_inbox("cun", problem)
