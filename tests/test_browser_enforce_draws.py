"""A month's double-random inspection in Chromium, end to end (RULES §9, seed 004): the county
office ("changji", 1440 px) draws the month's tasks on the draw page; the inspector ("cun",
linked to an inspector of the library) finds the task on a 360 px phone, enters the result with
a photo taken by the phone's camera input; the office publishes it from its publication list;
the result appears on the public page, read without signing in.

The county's inspector library is made here: two active inspectors, one of them cun, so every
task drawn has him as an inspector (a team is two)."""

import os
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from enforce.draws import queries as draw_queries
from enforce.draws import ratios
from enforce.draws import services as draw_services
from enforce.draws.models import Draw, Inspector, Task, enforce_task_photo, task_inspector
from extensions import db
from grid.models import Grid, Membership, Role, User
from grid.time import local_today
from sources.models import Source
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import photo_file

pytestmark = pytest.mark.browser

PHRASE = "发现问题作出行政处罚决定"  # outcome 4


def _library(live_app) -> tuple[int, str]:
    """The county of changji's office, with cun and one other as its only active inspectors;
    (the county's id, the name of its office)."""
    with live_app.app_context():
        try:
            changji = db.session.scalar(sa.select(User).where(User.username == "changji"))
            cun = db.session.scalar(sa.select(User).where(User.username == "cun"))
            county = db.session.scalar(
                sa.select(Grid)
                .join(Membership, Membership.grid_id == Grid.id)
                .where(Membership.user_id == changji.id, Membership.role == Role.OFFICE)
                .where(Grid.level == 2)
            )
            db.session.execute(
                sa.update(Inspector)
                .where(Inspector.grid_id == county.id, Inspector.user_id.is_distinct_from(cun.id))
                .values(active=False)
            )
            mine = db.session.scalar(sa.select(Inspector).where(Inspector.user_id == cun.id))
            if mine is None:
                draw_services.add_inspector(
                    county, "浏览器检查员", "6523002026001", "昌吉市执法大队", by=changji, user=cun
                )
            else:
                mine.grid_id, mine.active = county.id, True
            draw_services.add_inspector(
                county, "浏览器检查员乙", "6523002026002", "昌吉市执法大队", by=changji
            )
            db.session.commit()
            return county.id, county.name
        finally:
            db.session.remove()


def _month_to_draw(live_app, county_id: int) -> tuple[date, str]:
    """A month, this one or before, and a category with eligible units not drawn that month
    (the demo has drawn this month and last at the suggested numbers)."""
    with live_app.app_context():
        try:
            county = db.session.get(Grid, county_id)
            month = local_today().replace(day=1)
            for _ in range(24):
                plan = draw_queries.plan(county, month)
                for category in ratios.CATEGORIES:
                    if not plan.asked.get(category) and plan.population.of(category):
                        return month, category
                month = (month - timedelta(days=1)).replace(day=1)
            raise AssertionError("no month of the last two years left to draw")
        finally:
            db.session.remove()


def _tasks_of(live_app, draw_id: int) -> list[tuple[int, str]]:
    with live_app.app_context():
        try:
            return db.session.execute(
                sa.select(Task.id, Source.name)
                .join(Source, Source.id == Task.source_id)
                .where(Task.draw_id == draw_id)
                .order_by(Task.id)
            ).all()
        finally:
            db.session.remove()


def _task_row(live_app, task_id: int):
    with live_app.app_context():
        try:
            task = db.session.get(Task, task_id)
            photos = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(enforce_task_photo)
                .where(enforce_task_photo.c.enforce_task_id == task_id)
            )
            team = db.session.scalars(
                sa.select(Inspector.name)
                .join(task_inspector, task_inspector.c.inspector_id == Inspector.id)
                .where(task_inspector.c.task_id == task_id)
            ).all()
            db.session.expunge(task)
            return task, photos, team
        finally:
            db.session.remove()


def test_a_month_from_the_draw_to_the_public_page(
    browser, live_server, live_app, village, artifacts_dir
):
    county_id, _county_name = _library(live_app)
    _grid, lon, lat = village

    # --- the office draws the month's tasks (1440 px) ---
    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    office = desk.new_page()
    browser_sign_in(office, live_server, "changji")
    month, category = _month_to_draw(live_app, county_id)
    office.goto(f"{live_server}/enforce/draws?office={county_id}&month={month:%Y-%m}")
    form = office.locator("#draw-form")
    numbers = form.locator("input[type=number]:not([readonly])")
    assert numbers.count() > 0, "every category of this month was drawn already"
    for n in range(numbers.count()):
        numbers.nth(n).fill("0")
    form.locator(f"input[name={category}]").fill("1")
    form.locator("button[type=submit]").click()
    office.wait_for_url(re.compile(r"/enforce/draws/\d+$"))
    draw_id = int(office.url.rsplit("/", 1)[1])
    drawn = _tasks_of(live_app, draw_id)
    assert len(drawn) == 1
    task_id, source_name = drawn[0]
    task, _photos, team = _task_row(live_app, task_id)
    assert task.status == "assigned" and "浏览器检查员" in team

    # --- the inspector on a 360 px phone ---
    phone_context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lon},
    )
    phone = phone_context.new_page()
    browser_sign_in(phone, live_server, "cun")
    phone.goto(f"{live_server}/enforce/tasks")
    phone.get_by_role("link", name=source_name).first.click()
    phone.wait_for_url(f"{live_server}/enforce/tasks/{task_id}")
    completion = phone.locator("form[action$='/complete']")
    expect(completion.locator("input[name=photos]")).to_have_attribute("capture", "environment")
    completion.get_by_label(PHRASE).check()
    completion.locator("textarea[name=record]").fill("检查发现废气处理设施未正常运行，已立案处罚。")
    completion.locator("input[name=photos]").set_input_files(
        [photo_file("inspection.jpg", lon, lat, 90)]
    )
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the task page is {width} px wide on a 360 px phone"
    phone.screenshot(path=os.path.join(artifacts_dir, "enforce-task-phone.png"), full_page=True)
    completion.locator("button[type=submit]").click()
    phone.wait_for_url(f"{live_server}/enforce/tasks/{task_id}")
    expect(phone.locator(".flash-success")).to_be_visible()
    expect(phone.get_by_text(PHRASE)).to_be_visible()
    task, photos, _team = _task_row(live_app, task_id)
    assert task.status == "done" and task.outcome == 4 and photos == 1
    assert task.publish_due is not None and task.published_at is None

    # --- the office publishes it ---
    office.goto(f"{live_server}/enforce/tasks/publication")
    row = office.locator("tr", has_text=source_name)
    expect(row).to_contain_text(str(task.publish_due))
    row.locator(f"form[action$='/tasks/{task_id}/publish'] button").click()
    expect(office.locator(".flash-success")).to_be_visible()
    task, _photos, _team = _task_row(live_app, task_id)
    assert task.published_at is not None

    # --- the public page, without signing in ---
    public_context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    public = public_context.new_page()
    public.goto(f"{live_server}/login")
    public.locator("a[href$='/enforce/public/inspections']").first.click()
    public.wait_for_url(f"{live_server}/enforce/public/inspections")
    result = public.locator("tr", has_text=source_name)
    expect(result).to_contain_text(PHRASE)
    expect(result).to_contain_text("浏览器检查员")
    expect(public.get_by_text("已立案处罚")).to_have_count(0)  # the record stays internal
    width = public.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the public page is {width} px wide on a 360 px phone"
    public.screenshot(path=os.path.join(artifacts_dir, "enforce-public-phone.png"), full_page=True)
    office.goto(f"{live_server}/enforce/tasks/publication?show=all")
    office.screenshot(path=os.path.join(artifacts_dir, "enforce-publication-desk.png"))
    for context in (desk, phone_context, public_context):
        context.close()
    with live_app.app_context():
        assert db.session.get(Draw, draw_id).grid_id == county_id
        db.session.remove()
