"""Inspection tasks: the inspectors told, the result entered by one of them with photos, the
office's publication and the public page (RULES §9; seed 004 六). Real services, the real
database, the photo pipeline; every expected deadline counted by hand on the official calendar.

The draw is made here directly from the models (DRAWS' service is tested in its own files):
one draw of September 2024 for the world's county, two inspectors with accounts and one
without, three tasks."""

import io
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.draws import results
from enforce.draws.models import Draw, Inspector, Task, enforce_task_photo, task_inspector
from evidence import services as evidence
from extensions import db
from grid import services as grid_services
from grid.errors import ServiceError
from grid.models import Role
from grid.time import local_today, utcnow
from notify.models import Notification
from tests.conftest import csrf_token, sign_in
from tests.factories import jpeg, make_source, make_world, person

SEPTEMBER = date(2024, 9, 1)
DONE_ON = date(2024, 9, 27)  # Friday before National Day 2024
DUE = date(2024, 10, 30)  # 20 working days later (tests/test_enforce_tasks_publication.py)


@dataclass
class Setting:
    world: object
    draw: Draw
    tasks: list[Task]
    first: Inspector  # with an account
    second: Inspector  # with an account
    third: Inspector  # without one
    office: object  # the prefecture office's person
    first_user: object
    second_user: object


_cert = iter(range(900_000, 999_999))


def _inspector(world, user, name):
    row = Inspector(
        name=name,
        certificate_no=f"T{next(_cert)}",
        unit="测试执法大队",
        grid_id=world.county.id,
        user_id=user.id if user else None,
    )
    db.session.add(row)
    return row


def make_setting(month: date = SEPTEMBER, category: str = "key") -> Setting:
    world = make_world()
    office = person("zhou-office")
    grid_services.appoint(office, world.root, Role.OFFICE, local_today() - timedelta(days=400))
    first_user, second_user = person("inspector-1"), person("inspector-2")
    first = _inspector(world, first_user, "检查员甲")
    second = _inspector(world, second_user, "检查员乙")
    third = _inspector(world, None, "检查员丙")
    draw = Draw(
        grid_id=world.county.id,
        month=month,
        seed=12345,
        asked="{}",
        snapshot="{}",
        snapshot_sha256="0" * 64,
    )
    db.session.add(draw)
    db.session.flush()
    tasks = []
    for n, team in enumerate([(first, second), (second, third), (first, third)]):
        source = make_source(world, name=f"测试企业{n}", address=f"测试路{n}号")
        task = Task(draw_id=draw.id, source_id=source.id, category=category)
        db.session.add(task)
        db.session.flush()
        for position, inspector in enumerate(team, start=1):
            db.session.execute(
                task_inspector.insert().values(
                    task_id=task.id, inspector_id=inspector.id, position=position
                )
            )
        tasks.append(task)
    db.session.flush()
    return Setting(world, draw, tasks, first, second, third, office, first_user, second_user)


@pytest.fixture(autouse=True)
def _english(db_session):
    """Messages read in English (the msgids), whatever the catalogue says."""
    with force_locale("en"):
        yield


def prepared(world, seed: int = 1) -> evidence.Prepared:
    moment = evidence.capture(world.village, "检查员甲", utcnow())
    return evidence.prepare(jpeg(seed), moment, evidence.photo_store())


def good(**changes) -> results.Completion:
    values = {"outcome": 1, "record": "现场检查废气处理设施运行正常。", "done_on": DONE_ON}
    values.update(changes)
    return results.Completion(**values)


def linked_photos(task: Task) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(enforce_task_photo)
        .where(enforce_task_photo.c.enforce_task_id == task.id)
    )


# --- notifying the inspectors -------------------------------------------------------------------


def test_the_inspectors_with_an_account_are_told(db_session):
    s = make_setting()
    told = results.notify_assigned(s.tasks)
    # task 0: both accounts; task 1: the second only; task 2: the first only
    assert told == 4
    rows = db.session.execute(
        sa.select(Notification.user_id, Notification.subject, Notification.kind)
        .where(Notification.subject.like("inspection:%"))
        .where(Notification.user_id.in_([s.first_user.id, s.second_user.id]))
        .order_by(Notification.subject, Notification.user_id)
    ).all()
    t0, t1, t2 = (t.id for t in s.tasks)
    expected = sorted(
        [
            (s.first_user.id, f"inspection:{t0}"),
            (s.second_user.id, f"inspection:{t0}"),
            (s.second_user.id, f"inspection:{t1}"),
            (s.first_user.id, f"inspection:{t2}"),
        ],
        key=lambda r: (r[1], r[0]),
    )
    assert [(u, subj) for u, subj, _k in rows] == expected
    assert {k for _u, _s, k in rows} == {"inspection.assigned"}
    assert results.notify_assigned([]) == 0


# --- entering the result --------------------------------------------------------------------------


def test_an_inspector_enters_the_result(db_session):
    s = make_setting()
    task = s.tasks[0]
    results.complete(task, s.second_user, good(outcome=4), [prepared(s.world)])
    assert task.status == "done"
    assert task.outcome == 4
    assert task.record == "现场检查废气处理设施运行正常。"
    assert task.done_on == DONE_ON
    assert task.completed_by_id == s.second_user.id
    assert task.publish_due == DUE
    assert linked_photos(task) == 1


def test_a_facility_task_is_due_by_the_tenth_of_the_next_quarter(db_session):
    s = make_setting(category="facility")
    task = s.tasks[2]
    results.complete(task, s.first_user, good(), [prepared(s.world, 2), prepared(s.world, 3)])
    assert task.publish_due == date(2024, 10, 10)
    assert linked_photos(task) == 2


BAD = [
    ("no outcome", lambda: good(outcome=None), 1, "Choose the result"),
    ("outcome zero", lambda: good(outcome=0), 1, "one of the seven standard phrases"),
    ("outcome eight", lambda: good(outcome=8), 1, "one of the seven standard phrases"),
    ("no record", lambda: good(record=""), 1, "Write the check record"),
    ("blank record", lambda: good(record="  \n "), 1, "Write the check record"),
    (
        "record too long",
        lambda: good(record="查" * 2001),
        1,
        "at most 2000 characters (this is 2001)",
    ),
    ("no day", lambda: good(done_on=None), 1, "Give the day of the inspection"),
    (
        "tomorrow",
        lambda: good(done_on=local_today() + timedelta(days=1)),
        1,
        "cannot be in the future",
    ),
    (
        "before the month",
        lambda: good(done_on=date(2024, 8, 31)),
        1,
        "before the draw's month (2024-09)",
    ),
    ("no photo", lambda: good(), 0, "at least one photo"),
    ("six photos", lambda: good(), 6, "at most 5 photos"),
]


@pytest.mark.parametrize(
    ("completion", "photos", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_results_are_refused_and_nothing_is_written(db_session, completion, photos, message):
    s = make_setting()
    task = s.tasks[0]
    made = [prepared(s.world, 10 + n) for n in range(photos)]
    with pytest.raises(ServiceError) as refused:
        results.complete(task, s.first_user, completion(), made)
    assert message in str(refused.value)
    assert task.status == "assigned" and task.outcome is None and task.publish_due is None
    assert linked_photos(task) == 0


def test_the_record_may_be_exactly_the_limit(db_session):
    s = make_setting()
    results.complete(s.tasks[0], s.first_user, good(record="查" * 2000), [prepared(s.world)])
    assert s.tasks[0].status == "done"


def test_only_an_inspector_of_the_task_enters_it(db_session):
    s = make_setting()
    # the first inspector is not on task 1 (second and third are); the office is no inspector
    for user in (s.first_user, s.office, s.world.county_office):
        with pytest.raises(ServiceError, match="Only an inspector of this task"):
            results.complete(s.tasks[1], user, good(), [prepared(s.world)])
    assert s.tasks[1].status == "assigned"
    assert linked_photos(s.tasks[1]) == 0


def test_a_result_is_entered_once(db_session):
    s = make_setting()
    results.complete(s.tasks[0], s.first_user, good(outcome=2), [prepared(s.world)])
    with pytest.raises(ServiceError, match="already been entered"):
        results.complete(s.tasks[0], s.second_user, good(outcome=1), [prepared(s.world, 5)])
    assert s.tasks[0].outcome == 2
    assert linked_photos(s.tasks[0]) == 1


# --- publishing -----------------------------------------------------------------------------------


def test_publishing_needs_a_done_task_and_happens_once(db_session):
    s = make_setting()
    task = s.tasks[0]
    with pytest.raises(ServiceError, match="Only a done inspection can be published"):
        results.publish(task, s.office)
    assert task.published_at is None
    results.complete(task, s.first_user, good(), [prepared(s.world)])
    results.publish(task, s.office)
    first = task.published_at
    assert first is not None and task.published_by_id == s.office.id
    with pytest.raises(ServiceError, match="already published"):
        results.publish(task, s.world.county_office)
    assert task.published_at == first and task.published_by_id == s.office.id


def test_the_public_sees_the_phrase_and_the_inspectors_not_the_record(db_session):
    s = make_setting()
    task = s.tasks[0]
    results.complete(task, s.first_user, good(outcome=7), [prepared(s.world)])
    results.publish(task, s.office)
    (row,) = results.public_results([task])
    assert row.outcome == "发现问题，但是属于其他部门监管，需要移送或通报"
    assert row.source_name == "测试企业0"
    assert row.county == s.world.county.name
    assert row.done_on == DONE_ON
    assert [name for name, _unit, _cert in row.inspectors] == ["检查员甲", "检查员乙"]
    assert row.inspectors[0][2] == s.first.certificate_no
    assert "record" not in results.PublicResult.__dataclass_fields__


def test_publication_counts(db_session):
    s = make_setting()
    results.complete(s.tasks[0], s.first_user, good(), [prepared(s.world, 1)])
    results.complete(s.tasks[1], s.second_user, good(done_on=local_today()), [prepared(s.world, 2)])
    county = [s.world.county.id]
    # DUE (30 Oct 2024) is past; the one done today is not due yet
    assert results.publication_counts(county, local_today()) == (2, 1)
    assert results.publication_counts(county, date(2024, 10, 30)) == (2, 0)
    results.publish(s.tasks[0], s.office)
    assert results.publication_counts(county, local_today()) == (1, 0)
    assert results.publication_counts([s.world.county.id + 10_000], local_today()) == (0, 0)


# --- over HTTP ---------------------------------------------------------------------------------


def enter(client, user):
    """Sign `user` in, reading pages in English."""
    client.set_cookie("lang", "en")
    sign_in(client, user)


def _form(client, path, **fields):
    data = {"csrf_token": csrf_token(client, path)}
    data.update(fields)
    return data


def _complete_post(client, task, photos=1, **fields):
    path = f"/enforce/tasks/{task.id}"
    values = {"outcome": "1", "record": "现场检查未发现问题。", "done_on": DONE_ON.isoformat()}
    values.update(fields)
    data = _form(client, path, **values)
    if photos:
        data["photos"] = [
            (io.BytesIO(jpeg(40 + n)), f"p{n}.jpg", "image/jpeg") for n in range(photos)
        ]
    return client.post(
        f"{path}/complete", data=data, content_type="multipart/form-data", follow_redirects=False
    )


def test_the_phone_flow_over_http(client, db_session):
    s = make_setting()
    task = s.tasks[0]
    enter(client, s.first_user)
    listing = client.get("/enforce/tasks").get_data(as_text=True)
    assert "测试企业0" in listing and "测试企业2" in listing and "测试企业1" not in listing
    page = client.get(f"/enforce/tasks/{task.id}").get_data(as_text=True)
    assert "测试路0号" in page and 'capture="environment"' in page
    assert "发现问题作出行政处罚决定" in page  # the seven phrases offered
    answer = _complete_post(client, task, photos=2, outcome="3")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert task.status == "done" and task.outcome == 3 and task.publish_due == DUE
    assert linked_photos(task) == 2
    shown = client.get(f"/enforce/tasks/{task.id}").get_data(as_text=True)
    assert "发现问题做出行政指导" in shown and "2024-10-30" in shown


HTTP_BAD = [
    ("no outcome", {"outcome": ""}, 1, "Choose the result"),
    ("unknown outcome", {"outcome": "9"}, 1, "Result is not one of the choices."),
    ("no record", {"record": ""}, 1, "Write the check record"),
    ("record too long", {"record": "查" * 2001}, 1, "at most 2000 characters"),
    ("no photo", {}, 0, "at least one photo"),
    ("future", {"done_on": None}, 1, "Day of the inspection must be between 2024-09-01 and"),
    ("not a date", {"done_on": "27/09/2024"}, 1, "YYYY-MM-DD"),
    ("before the month", {"done_on": "2024-08-31"}, 1, "must be between 2024-09-01 and"),
]


@pytest.mark.parametrize(
    ("fields", "photos", "message"), [b[1:] for b in HTTP_BAD], ids=[b[0] for b in HTTP_BAD]
)
def test_bad_input_over_http_shows_the_form_again(client, db_session, fields, photos, message):
    s = make_setting()
    task = s.tasks[0]
    enter(client, s.first_user)
    if fields.get("done_on", "") is None:
        fields = {"done_on": (local_today() + timedelta(days=2)).isoformat()}
    answer = _complete_post(client, task, photos=photos, **fields)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert message.replace("'", "&#39;") in page
    assert 'name="record"' in page  # the form again
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == "assigned"
    assert linked_photos(task) == 0


def test_who_sees_and_enters_a_task_over_http(client, db_session):
    s = make_setting()
    task = s.tasks[1]  # second and third
    enter(client, s.world.supervisor)  # no inspector, no office
    assert client.get(f"/enforce/tasks/{task.id}").status_code == 403
    assert _complete_post(client, task).status_code == 403
    assert client.get("/enforce/tasks/999999999").status_code == 404
    enter(client, s.first_user)  # an inspector, not of this task
    assert client.get(f"/enforce/tasks/{task.id}").status_code == 403
    enter(client, s.world.county_office)  # the county's office sees it, cannot enter it
    page = client.get(f"/enforce/tasks/{task.id}").get_data(as_text=True)
    assert 'name="record"' not in page
    answer = _complete_post(client, task)
    assert answer.status_code == 400
    assert "Only an inspector of this task" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == "assigned"


def test_the_office_publishes_and_the_public_reads(client, db_session):
    s = make_setting()
    done, other = s.tasks[0], s.tasks[2]
    results.complete(done, s.first_user, good(outcome=2), [prepared(s.world)])
    results.complete(other, s.first_user, good(done_on=local_today()), [prepared(s.world, 7)])
    db.session.flush()
    enter(client, s.world.county_office)
    listing = client.get("/enforce/tasks/publication").get_data(as_text=True)
    assert "测试企业0" in listing and "2024-10-30" in listing and "overdue" in listing
    assert "测试企业2" in listing
    overdue = client.get("/enforce/tasks/publication?show=overdue").get_data(as_text=True)
    assert "测试企业0" in overdue and "测试企业2" not in overdue
    assert client.get("/enforce/tasks/publication?show=nonsense").status_code == 400
    path = "/enforce/tasks/publication"
    answer = client.post(f"/enforce/tasks/{done.id}/publish", data=_form(client, path))
    assert answer.status_code == 303
    again = client.post(
        f"/enforce/tasks/{done.id}/publish", data=_form(client, path), follow_redirects=True
    )
    assert "already published" in again.get_data(as_text=True)
    not_done = client.post(
        f"/enforce/tasks/{s.tasks[1].id}/publish", data=_form(client, path), follow_redirects=True
    )
    assert "Only a done inspection" in not_done.get_data(as_text=True)
    published = client.get("/enforce/tasks/publication?show=published").get_data(as_text=True)
    assert "测试企业0" in published and "published late" in published
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    public = client.get("/enforce/public/inspections")
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert "测试企业0" in text and "发现问题作出责令改正等行政命令" in text
    assert "检查员甲" in text and s.first.certificate_no in text
    assert "现场检查废气处理设施运行正常" not in text  # the record stays internal
    assert "测试企业2" not in text  # not published
    month = client.get("/enforce/public/inspections?month=2024-09").get_data(as_text=True)
    assert "测试企业0" in month
    other_month = client.get("/enforce/public/inspections?month=2024-08").get_data(as_text=True)
    assert "测试企业0" not in other_month
    assert client.get("/enforce/public/inspections?month=2024-13").status_code == 400


def test_another_countys_office_may_not_publish(client, db_session):
    s = make_setting()
    results.complete(s.tasks[0], s.first_user, good(), [prepared(s.world)])
    elsewhere = make_world()
    enter(client, elsewhere.county_office)
    path = "/enforce/tasks/publication"
    assert "测试企业0" not in client.get(path).get_data(as_text=True)
    answer = client.post(f"/enforce/tasks/{s.tasks[0].id}/publish", data=_form(client, path))
    assert answer.status_code == 403
    db.session.expire_all()
    assert db.session.get(Task, s.tasks[0].id).published_at is None


def test_the_sign_in_page_links_the_public_results(client, db_session):
    page = client.get("/login").get_data(as_text=True)
    assert "/enforce/public/inspections" in page
