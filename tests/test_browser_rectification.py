"""A rectification photo sent from a problem's page carries where the phone was (issue 10,
item 5): with the location allowed it is stored with the browser's fix and is not flagged 无定位;
with the location refused the step is still sent, and the photo is flagged as before."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from evidence.models import Photo
from evidence.services import photo_store
from extensions import db
from grid.models import User, point
from grid.time import local_today, utcnow
from problems import services as problems
from problems.escalation import Capacity, State
from problems.models import Problem, ProblemEvent, problem_photo
from tests import photo_corpus
from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Asia/Shanghai")
SUBMITTED = "已提交整改，等待复查。"  # the step says what it did and what comes next


def rectifying_problem(live_app, village) -> int:
    """A new problem in cun's village, sent up and assigned to zhifa (as the demo's are)."""
    grid_id, lon, lat = village
    with live_app.app_context():
        users = {
            u.username: u
            for u in db.session.scalars(
                sa.select(User).where(User.username.in_(["cun", "sangong", "changji"]))
            )
        }
        problem = Problem(
            origin="patrol",
            reporter_id=users["cun"].id,
            grid_id=grid_id,
            found_at=utcnow(),
            location=point(lon, lat),
            category="dust",
            severity="moderate",
            description=f"工地扬尘({uuid.uuid4().hex[:8]})",
        )
        db.session.add(problem)
        db.session.flush()
        problems.start(problem, State.VILLAGE, users["cun"], Capacity.VILLAGE)
        for who, event in (("cun", "escalate"), ("sangong", "approve"), ("changji", "assign")):
            problems.act(
                problem,
                users[who],
                problems.Act(
                    event=event,
                    version=problem.version,
                    assignee_login="zhifa" if event == "assign" else "",
                    due_date=local_today() + timedelta(days=7) if event == "assign" else None,
                ),
                photo_store(),
            )
        db.session.commit()
        problem_id = problem.id
        db.session.remove()
    return problem_id


def submit_photo_as_zhifa(context, live_server, problem_id, path):
    """zhifa signs in, opens the problem and submits the rectification with one photo."""
    page = context.new_page()
    browser_sign_in(page, live_server, "zhifa")
    url = f"{live_server}/patrol/problems/{problem_id}"
    page.goto(url)
    box = page.locator("details.action").filter(
        has=page.locator('input[name=event][value="submit"]')
    )
    if not box.evaluate("d => d.open"):
        box.locator("summary").click()
    form = box.locator("form")
    form.locator("textarea[name=comment]").fill("已安装喷淋,裸土已苫盖")
    form.locator("input[name=photos]").set_input_files([path])
    with page.expect_navigation(url=url):
        form.locator("button[type=submit]").click()
    expect(page.locator(".flash")).to_have_text(SUBMITTED)
    expect(page.locator(".meta .tag.state-rechecking")).to_have_count(1)


def submitted_photo(live_app, problem_id) -> Photo:
    with live_app.app_context():
        photo = db.session.scalar(
            sa.select(Photo)
            .join(problem_photo, problem_photo.c.photo_id == Photo.id)
            .join(ProblemEvent, ProblemEvent.id == problem_photo.c.event_id)
            .where(problem_photo.c.problem_id == problem_id, ProblemEvent.event == "submit")
        )
        db.session.expunge_all()
        db.session.remove()
    assert photo is not None, "the rectification photo was not stored"
    return photo


def photo_without_gps(folder, seed) -> str:
    """A camera JPEG with its time but no GPS: only the browser can say where it was taken."""
    block = photo_corpus.exif(taken_at=datetime.now(ZONE).replace(tzinfo=None, microsecond=0))
    path = folder / f"after-{seed}.jpg"
    path.write_bytes(photo_corpus.jpeg(photo_corpus.realistic(1200, 900, seed), block))
    return str(path)


def codes(photo: Photo) -> set[str]:
    return {flag["code"] for flag in photo.flags}


def test_a_rectification_photo_has_the_phones_position(
    browser, browser_context_args, live_server, live_app, village, tmp_path
):
    grid_id, lon, lat = village
    problem_id = rectifying_problem(live_app, village)
    context = browser.new_context(
        **{
            **browser_context_args,
            "permissions": ["geolocation"],
            "geolocation": {"latitude": lat, "longitude": lon, "accuracy": 8},
        }
    )
    try:
        submit_photo_as_zhifa(context, live_server, problem_id, photo_without_gps(tmp_path, 301))
    finally:
        context.close()
    photo = submitted_photo(live_app, problem_id)
    assert photo.fix_lat == pytest.approx(lat, abs=1e-5)
    assert photo.fix_lon == pytest.approx(lon, abs=1e-5)
    assert photo.fix_accuracy_m == pytest.approx(8)
    assert "no_location" not in codes(photo)
    assert "outside_grid" not in codes(photo)
    assert photo.grid_id == grid_id


def test_with_the_location_refused_the_step_is_still_sent(
    browser, browser_context_args, live_server, live_app, village, tmp_path
):
    problem_id = rectifying_problem(live_app, village)
    context = browser.new_context(**{**browser_context_args, "permissions": []})
    try:
        submit_photo_as_zhifa(context, live_server, problem_id, photo_without_gps(tmp_path, 302))
    finally:
        context.close()
    photo = submitted_photo(live_app, problem_id)
    assert photo.fix_lat is None and photo.fix_lon is None
    assert "no_location" in codes(photo)
