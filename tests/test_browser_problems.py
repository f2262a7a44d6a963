"""A problem's whole way up the grid and back, in the browser, as five people on 360 px phones.

The village supervisor reports it from the patrol page (with photos, through the offline queue)
and sends it up; the township approves; the county office assigns it to a department officer
with a deadline; he submits the rectification with an after-photo; the county re-check fails,
the prefecture office orders supervision (督办), he submits again and the re-check passes. Each
person's inbox holds the problem exactly while it waits for them, the next actor is notified,
and the timeline shows every step in order to everyone, the prefecture included.
"""

import os
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from grid.models import User
from problems.models import Problem
from tests import photo_corpus
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import wait_synced

pytestmark = pytest.mark.browser

PEOPLE = ("cun", "sangong", "changji", "zhifa", "zhou")
ZONE = ZoneInfo("Asia/Shanghai")  # the app's TIMEZONE: deadlines are days there

# What the pages say in Chinese (translations/zh_Hans_CN).
DAY = r"\d{4}-\d{2}-\d{2}（含当日）"
DONE = {  # what each step says it did, and what comes next
    "escalate": "已上报乡镇，等待乡镇审核。",
    "approve": "已同意上报县（市），等待县（市）交办。",
    "assign": re.compile(rf"^已交办给.+，整改期限：{DAY}。$"),
    "submit": "已提交整改，等待复查。",
    "recheck_fail": re.compile(rf"^复查不通过，已退回重新整改，整改期限：{DAY}。$"),
    "recheck_pass": "复查通过，问题已整改办结。",
    "supervise": "已下达督办，已通知相关责任人。",
}
LABEL = {
    "report": "已上报",
    "escalate": "上报乡镇（街道）",
    "approve": "同意上报县（市）",
    "assign": "交办整改",
    "submit": "提交整改结果",
    "recheck_fail": "复查不通过",
    "recheck_pass": "复查通过",
    "supervise": "督办",
}
STATE = {
    "village": "村级处理中",
    "township": "待乡镇（街道）审核",
    "county": "待县（市）交办",
    "rectifying": "整改中",
    "rechecking": "待复查",
    "closed": "已整改办结",
}
TOLD = {
    "township": "有一个问题等待您审核",
    "county": "有一个问题等待交办",
    "rectifying": "有一个问题已交办给您整改",
    "rechecking": "有一项整改等待复查",
    "supervise": "州（市）对一个问题下达了督办",
    "closed": "您上报的问题已整改并办结",
}


# --- photos -------------------------------------------------------------------------------------


def photo(folder, name, seed, lon, lat):
    """A phone-camera JPEG on disk: a photo-like picture, GPS and the local time it was taken."""
    block = photo_corpus.exif(
        gps=(lat, lon), taken_at=datetime.now(ZONE).replace(tzinfo=None, microsecond=0)
    )
    path = folder / name
    path.write_bytes(photo_corpus.jpeg(photo_corpus.realistic(1200, 900, seed), block))
    return str(path)


# --- the people ---------------------------------------------------------------------------------


@pytest.fixture
def names(live_app):
    with live_app.app_context():
        rows = db.session.execute(
            sa.select(User.username, User.name).where(User.username.in_(PEOPLE))
        ).all()
        db.session.remove()
    return dict(rows)


@pytest.fixture
def phones(browser, browser_context_args, live_server, village):
    """One signed-in 360x740 phone (its own browser context) per person."""
    _grid_id, lon, lat = village
    args = {**browser_context_args, "geolocation": {"latitude": lat, "longitude": lon}}
    contexts, pages = [], {}
    try:
        for login in PEOPLE:
            context = browser.new_context(**args)
            contexts.append(context)
            page = context.new_page()
            browser_sign_in(page, live_server, login)
            pages[login] = page
        yield pages
    finally:
        for context in contexts:
            context.close()


# --- what a person sees and does ----------------------------------------------------------------


class Desk:
    def __init__(self, live_server, artifacts_dir, backend):
        self.base = live_server
        self.artifacts = artifacts_dir
        self.backend = backend
        self.shots = 0

    def shot(self, page, what):
        self.shots += 1
        name = f"problems-{self.shots:02d}-{what}-{self.backend}.png"
        page.screenshot(path=os.path.join(self.artifacts, name), full_page=True)

    def counts(self, page):
        """(waiting for me, unread notifications) as the home page shows them (an inspector
        of the demo's library has a third count, their inspection tasks)."""
        page.goto(self.base + "/")
        waiting = page.locator('.desk-counts a[href="/problems/inbox"] .count')
        unread = page.locator('.desk-counts a[href="/notifications"] .count')
        expect(waiting).to_have_count(1)
        expect(unread).to_have_count(1)
        return int(waiting.inner_text()), int(unread.inner_text())

    def inbox_has(self, page, problem_id, present=True):
        """Open "waiting for me" and check whether the problem is in it."""
        page.goto(self.base + "/problems/inbox")
        link = page.locator(f'#inbox a[href="/patrol/problems/{problem_id}"]')
        expect(link).to_have_count(1 if present else 0)
        return page

    def notified(self, page, problem_id, message, times=1):
        """The notifications page lists `message` about this problem, unread, `times` times."""
        page.goto(self.base + "/notifications")
        items = (
            page.locator("ul.notifications li.unread")
            .filter(has=page.locator(f'a[href="/patrol/problems/{problem_id}"]'))
            .filter(has_text=f"{message} #{problem_id}")
        )
        expect(items).to_have_count(times)

    def problem(self, page, problem_id):
        url = f"{self.base}/patrol/problems/{problem_id}"
        page.goto(url)
        expect(page.locator("h1 .muted")).to_have_text(f"#{problem_id}")
        # one-handed at 360 px: the page with its timeline and forms fits the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        return url

    def act(self, page, problem_id, event, to_state, photos=(), **fields):
        """Open the problem page, fill in the form of `event`, send it, see it done."""
        url = self.problem(page, problem_id)
        box = page.locator("details.action").filter(
            has=page.locator(f'input[name=event][value="{event}"]')
        )
        expect(box).to_have_count(1)
        if not box.evaluate("d => d.open"):
            box.locator("summary").click()
        form = box.locator("form")
        for name, value in fields.items():
            field = form.locator(f"[name={name}]")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)  # a picker (the person to assign to)
            else:
                field.fill(value)
        if photos:
            form.locator("input[name=photos]").set_input_files(list(photos))
        with page.expect_navigation(url=url):
            form.locator("button[type=submit]").click()
        expect(page.locator(".flash")).to_have_text(DONE[event])
        expect(page.locator(f".meta .tag.state-{to_state}")).to_have_text(STATE[to_state])
        return page

    def timeline(self, page, events):
        steps = page.locator("ol.timeline li.step")
        expect(steps.locator("strong")).to_have_text([LABEL[e] for e in events])
        return steps


# --- the patrol page (as in tests/test_browser_patrol.py) ---------------------------------------


def report_from_patrol(page, live_server, description, files):
    """Start a patrol, visit the first source and report a problem there with photos, end the
    patrol; everything goes through the offline queue and is sent."""
    page.goto(live_server + "/patrol/")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    expect(page.locator("#source-list li").first).to_be_visible()
    page.wait_for_function("() => document.getElementById('position').textContent.length > 0")
    page.click("#start-patrol")
    expect(page.locator("#end-patrol")).to_be_visible()
    row = page.locator("#source-list li").first
    row.locator("summary").click()
    row.locator(".problem-button").click()
    dialog = page.locator("#problem-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=category]").select_option("garbage_pile")
    dialog.locator("select[name=severity]").select_option("serious")
    dialog.locator("textarea[name=description]").fill(description)
    dialog.locator("input[name=photos]").set_input_files(list(files))
    dialog.locator("button[value=save]").click()
    expect(dialog).to_be_hidden()
    wait_synced(page)
    page.click("#end-patrol")
    expect(page.locator("#start-patrol")).to_be_visible()
    wait_synced(page)
    assert not page.locator("#refused-list li").count()


def problem_with(live_app, description):
    with live_app.app_context():
        problem = db.session.scalar(sa.select(Problem).where(Problem.description == description))
        found = (problem.id, problem.state) if problem else None
        db.session.remove()
    assert found is not None, "the report never reached the server"
    return found


# --- the test -----------------------------------------------------------------------------------


def test_problem_up_the_grid_and_back(
    phones, names, live_server, live_app, village, artifacts_dir, database, tmp_path
):
    cun, sangong, changji, zhifa, zhou = (phones[p] for p in PEOPLE)
    desk = Desk(live_server, artifacts_dir, database.backend)
    _grid_id, lon, lat = village
    today = datetime.now(ZONE).date()
    first_due, second_due = today + timedelta(days=3), today + timedelta(days=7)

    # 1. cun reports it on patrol, with two photos, and sends it up to the township
    description = f"村口垃圾堆放，未清运（{uuid.uuid4().hex[:8]}）"
    report_from_patrol(
        cun,
        live_server,
        description,
        [photo(tmp_path, "a.jpg", 101, lon, lat), photo(tmp_path, "b.jpg", 102, lon, lat)],
    )
    problem_id, state = problem_with(live_app, description)
    assert state == "village"
    desk.shot(cun, "cun-reported")

    desk.inbox_has(cun, problem_id)
    desk.problem(cun, problem_id)
    expect(cun.locator("p.card")).to_have_text(description)
    expect(cun.locator(".photos img")).to_have_count(2)
    desk.timeline(cun, ["report"])

    sangong_waiting, sangong_unread = desk.counts(sangong)
    inbox = desk.inbox_has(sangong, problem_id, present=False)  # not yet: still at the village

    desk.act(cun, problem_id, "escalate", "township")
    desk.shot(cun, "cun-escalate")
    desk.inbox_has(cun, problem_id, present=False)

    # 2. the township: its open inbox picks it up (the htmx fragment), home counts it, approves
    inbox.evaluate("htmx.ajax('GET', '/problems/inbox', {target: '#inbox', swap: 'outerHTML'})")
    expect(inbox.locator(f'#inbox a[href="/patrol/problems/{problem_id}"]')).to_have_count(1)
    assert desk.counts(sangong) == (sangong_waiting + 1, sangong_unread + 1)
    desk.notified(sangong, problem_id, TOLD["township"])
    desk.inbox_has(sangong, problem_id)
    desk.shot(sangong, "sangong-inbox")

    changji_waiting, _ = desk.counts(changji)
    desk.inbox_has(changji, problem_id, present=False)
    desk.act(sangong, problem_id, "approve", "county")
    desk.shot(sangong, "sangong-approve")
    desk.inbox_has(sangong, problem_id, present=False)
    assert desk.counts(sangong)[0] == sangong_waiting

    # 3. the county office assigns it to the enforcement officer, due in three days
    assert desk.counts(changji)[0] == changji_waiting + 1
    desk.notified(changji, problem_id, TOLD["county"])
    desk.inbox_has(changji, problem_id)
    desk.shot(changji, "changji-inbox")
    zhifa_waiting, _ = desk.counts(zhifa)
    desk.inbox_has(zhifa, problem_id, present=False)
    desk.act(
        changji,
        problem_id,
        "assign",
        "rectifying",
        assignee_login="zhifa",
        due_date=first_due.isoformat(),
        comment="请三日内清运完毕",
    )
    desk.shot(changji, "changji-assign")
    desk.inbox_has(changji, problem_id, present=False)
    assert desk.counts(changji)[0] == changji_waiting

    # the prefecture sees how far the levels below have got
    desk.problem(zhou, problem_id)
    steps = desk.timeline(zhou, ["report", "escalate", "approve", "assign"])
    expect(steps.nth(3)).to_contain_text(names["zhifa"])
    expect(steps.nth(3)).to_contain_text(first_due.isoformat())
    desk.shot(zhou, "zhou-sees-assigned")

    # 4. the officer rectifies and submits, with a photo of the place afterwards
    assert desk.counts(zhifa)[0] == zhifa_waiting + 1
    desk.notified(zhifa, problem_id, TOLD["rectifying"])
    desk.inbox_has(zhifa, problem_id)
    desk.shot(zhifa, "zhifa-inbox")
    desk.act(
        zhifa,
        problem_id,
        "submit",
        "rechecking",
        photos=[photo(tmp_path, "after-1.jpg", 201, lon, lat)],
        comment="已清运大部分垃圾",
    )
    expect(zhifa.locator(".photos img")).to_have_count(3)
    desk.shot(zhifa, "zhifa-submit")
    desk.inbox_has(zhifa, problem_id, present=False)
    assert desk.counts(zhifa)[0] == zhifa_waiting

    # 5. the county re-checks: not passed, a new deadline; back to the officer
    desk.notified(changji, problem_id, TOLD["rechecking"])
    desk.inbox_has(changji, problem_id)
    desk.act(
        changji,
        problem_id,
        "recheck_fail",
        "rectifying",
        comment="现场仍有垃圾残留，需彻底清理",
        due_date=second_due.isoformat(),
    )
    desk.shot(changji, "changji-recheck-fail")
    desk.inbox_has(changji, problem_id, present=False)
    desk.notified(zhifa, problem_id, TOLD["rectifying"], times=2)
    desk.inbox_has(zhifa, problem_id)

    # the prefecture orders supervision; the officer sees it marked in his inbox
    desk.act(zhou, problem_id, "supervise", "rectifying", comment="请限期彻底整改，州里督办")
    expect(zhou.locator(".meta .flag")).to_have_text("督办中")
    desk.shot(zhou, "zhou-supervise")
    desk.inbox_has(zhou, problem_id, present=False)
    desk.notified(zhifa, problem_id, TOLD["supervise"])
    item = (
        desk.inbox_has(zhifa, problem_id)
        .locator("li.problem-item")
        .filter(has=zhifa.locator(f'a[href="/patrol/problems/{problem_id}"]'))
    )
    expect(item.locator(".flag")).to_have_text("督办中")
    desk.shot(zhifa, "zhifa-inbox-again")

    desk.act(
        zhifa,
        problem_id,
        "submit",
        "rechecking",
        photos=[photo(tmp_path, "after-2.jpg", 202, lon, lat)],
        comment="已彻底清理完毕",
    )
    expect(zhifa.locator(".photos img")).to_have_count(4)
    desk.shot(zhifa, "zhifa-submit-again")
    desk.inbox_has(zhifa, problem_id, present=False)

    desk.notified(changji, problem_id, TOLD["rechecking"], times=2)
    desk.inbox_has(changji, problem_id)
    desk.act(changji, problem_id, "recheck_pass", "closed", comment="复查合格")
    expect(changji.locator("details.action")).to_have_count(0)  # nothing more to do
    desk.shot(changji, "changji-recheck-pass")

    # closed: nobody waits for it, the reporter is told, and everyone sees every step in order
    for login in PEOPLE:
        desk.inbox_has(phones[login], problem_id, present=False)
    desk.notified(cun, problem_id, TOLD["closed"])
    final = [
        "report",
        "escalate",
        "approve",
        "assign",
        "submit",
        "recheck_fail",
        "supervise",
        "submit",
        "recheck_pass",
    ]
    actors = ["cun", "cun", "sangong", "changji", "zhifa", "changji", "zhou", "zhifa", "changji"]
    for login in ("zhou", "cun"):
        page = phones[login]
        desk.problem(page, problem_id)
        expect(page.locator(".meta .tag.state-closed")).to_have_text(STATE["closed"])
        steps = desk.timeline(page, final)
        for n, actor in enumerate(actors):
            expect(steps.nth(n)).to_contain_text(names[actor])
        expect(steps.nth(5)).to_contain_text("现场仍有垃圾残留，需彻底清理")
        expect(steps.nth(5)).to_contain_text(second_due.isoformat())
        expect(steps.nth(6)).to_contain_text("请限期彻底整改，州里督办")
        expect(page.locator(".photos img")).to_have_count(4)
        expect(page.locator("details.action")).to_have_count(0)
        desk.shot(page, f"{login}-closed-timeline")
