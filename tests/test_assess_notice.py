"""The monthly notice (assess/notice.py, assess/notice_pages.py): made from a month frozen through
the real services, written as a workbook that is reopened and read cell by cell, shown as a
print-ready page, refused for a month not frozen, and a county revised on appeal shown at its
version."""

import io
import os
import re
from datetime import timedelta
from urllib.parse import unquote

import openpyxl
import pytest
from flask import render_template

from assess import appeals, queries, services, snapshots
from assess import notice as notices
from assess.air import AirRow
from assess.models import RecordKind
from assess.notice_pages import XLSX
from extensions import db
from grid import services as grid_services
from grid.errors import ServiceError
from grid.models import Role
from grid.time import local_today
from problems.findings import ALREADY_REPORTED, MISSED
from tests import factories
from tests.conftest import browser_sign_in, sign_in
from tests.test_assess import day_start, finding
from tests.test_findings import add_problem


def open_month():
    """The latest month that is over and not frozen, and a day inside it: last month, or the
    month before the demo's frozen history when the demo holds one."""
    first = queries.previous_month(local_today().replace(day=1))
    while snapshots.latest(first):
        first = queries.previous_month(first)
    return first, first + timedelta(days=14)


@pytest.fixture
def county(make_world):
    """A world whose county has items 1-3 in place from before that month: heads, an office,
    a county sub-grid head over the township and a township one over both villages."""
    first, _day = open_month()
    since = first - timedelta(days=30)
    return factories.staff_county(make_world(villages=2, started_on=since), since)


@pytest.fixture
def prefecture(county):
    person = factories.person("prefecture-office")
    grid_services.appoint(person, county.root, Role.OFFICE, local_today() - timedelta(days=1))
    return person


@pytest.fixture
def month(county):
    """Last month, built through the services and frozen. By hand for the county: items 1-3 in
    place (30); two missed problems (item 4: 38); one problem exposed by regional and by
    prefecture media (counted once: -30); two inspection items overdue (item 7: 0, and -10
    spilled off the total); one major discovery (+2). 30 + max(0, 38 + 10 + 10 + 0 - 30) - 10
    + 2 = 50: 不合格."""
    first, day = open_month()
    finding(county, day, MISSED)
    finding(county, day, MISSED)
    reported = add_problem(county.village, day_start(day))
    finding(county, day, ALREADY_REPORTED, "media", "region", [reported])
    finding(county, day, ALREADY_REPORTED, "media", "prefecture", [reported])
    office = county.county_office
    services.record(county.county, RecordKind.INSPECTION, "督察问题一", by=office, due_on=day)
    services.record(county.county, RecordKind.INSPECTION, "督察问题二", by=office, due_on=day)
    services.record(county.county, RecordKind.BONUS, "主动发现重大问题", by=office, month=first)
    made = snapshots.freeze(first.year, first.month, by=None)
    [mine] = [s for s in made if s.county_id == county.county.id]
    assert (mine.result["score"], mine.result["grade"]) == (50, "不合格")
    return first


def row_of(made, world):
    [row] = [r for r in made.rows if r.county_id == world.county.id]
    return row


def test_the_notice_is_made_from_the_frozen_month(county, month):
    made = notices.notice(month)
    assert made.prefecture == "昌吉州"  # the level-1 grid is 昌吉回族自治州
    assert made.title == f"昌吉州{month.year}年{month.month}月网格化环境监管考核情况通报"
    row = row_of(made, county)
    assert (row.score, row.grade, row.version) == (50, "不合格", 1)
    assert row.items == {1: 10, 2: 10, 3: 10, 4: 38, 5: 10, 6: 10, 7: 0}
    assert (row.system, row.operation, row.media, row.spill, row.bonus) == (30, 28, 30, -10, 2)
    lost = [(d.key, d.item, d.points) for d in row.deductions]
    assert lost == [
        ("item4", "第4项", -2),
        ("item7", "第7项", -10),
        ("spill", "第7项超扣", -10),
        ("media", "媒体曝光", -30),
        ("bonus", "加分", 2),
    ]
    media = next(d for d in row.deductions if d.key == "media")
    assert "自治区级" in media.words and "按最高一级计一次" in media.words
    # The ranking: best first, equal scores share a place.
    scores = [r.score for r in made.rows]
    assert scores == sorted(scores, reverse=True)
    assert row.place == 1 + sum(1 for s in scores if s > 50)
    assert sum(made.grades.values()) == len(made.rows) and made.grades["不合格"] >= 1
    assert list(made.grades) == ["优秀", "良好", "合格", "不合格"]
    assert f"{month.year}年{month.month}月" in made.summary and "不合格" in made.summary
    # The county holds the prefecture's only missed problems (the demo records none): more
    # than 20% in one month is an interview (RULES §5).
    assert row.consequences == ["约谈"]
    assert f"{county.county.name}：约谈" in made.summary
    assert made.revised == [] and made.frozen_at is not None
    # Data recorded after the freeze leaves the notice as it was: it is the snapshot's.
    finding(county, month + timedelta(days=3), MISSED)
    assert notices.notice(month) == made


def test_a_month_not_frozen_has_no_notice(county):
    first, _day = open_month()
    with pytest.raises(notices.NotFrozen) as refused:
        notices.notice(first)
    assert isinstance(refused.value, ServiceError)
    assert "freeze the month first" in str(refused.value) or "先冻结" in str(refused.value)


def test_the_prefecture_short_name():
    assert notices.short_name("昌吉回族自治州") == "昌吉州"
    assert notices.short_name("伊犁哈萨克自治州") == "伊犁州"
    assert notices.short_name("测试州") == "测试州"
    assert notices.short_name("乌鲁木齐市") == "乌鲁木齐市"


# --- the workbook ------------------------------------------------------------------------------


def reopen(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def county_line(sheet, name, column="B", first_line=5):
    for line in range(first_line, sheet.max_row + 1):
        if sheet[f"{column}{line}"].value == name:
            return line
    raise AssertionError(f"{name} not in {sheet.title}")


def test_the_workbook_reopens_with_its_title_headers_scores_and_print_setup(county, month):
    made = notices.notice(month, [])
    book = reopen(notices.workbook(made))
    assert book.sheetnames == ["考核排名", "扣分明细"]  # no air-quality rows given
    sheet = book["考核排名"]
    assert sheet["A1"].value == made.title
    assert sheet["A1"].font.b and sheet["A1"].alignment.horizontal == "center"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:P1", "A2:P2", "A3:A4", "B3:B4", "C3:E3", "F3:I3", "M3:M4", "N3:N4"} <= merged
    assert "冻结时间" in sheet["A2"].value and "均为第1版" in sheet["A2"].value
    assert (sheet["A3"].value, sheet["B3"].value) == ("名次", "县市（园区）")
    assert (sheet["C3"].value, sheet["F3"].value) == ("体系建设（30分）", "运行管理（70分）")
    assert [sheet.cell(4, c).value for c in range(3, 10)] == [
        "1.网格建立（10）",
        "2.分网格长覆盖（10）",
        "3.信息公开（10）",
        "4.未发现问题（40）",
        "5.未及时交办（10）",
        "6.整改不到位（10）",
        "7.督察问题整改（10）",
    ]
    headings = [sheet.cell(3, c).value for c in range(10, 17)]
    assert headings == ["加分", "媒体扣分", "第7项超扣", "总分", "等级", "触发后果", "版本"]
    assert sheet["C3"].alignment.horizontal == "center" and sheet["C4"].border.left.style
    # Every county, in the notice's order, with its score and grade.
    for offset, row in enumerate(made.rows):
        line = 5 + offset
        assert sheet[f"B{line}"].value == row.county
        assert (sheet[f"M{line}"].value, sheet[f"N{line}"].value) == (row.score, row.grade)
    line = county_line(sheet, county.county.name)
    values = [sheet.cell(line, c).value for c in range(3, 17)]
    assert values == [10, 10, 10, 38, 10, 10, 0, 2, -30, -10, 50, "不合格", "约谈", "第1版"]
    assert sheet[f"N{line}"].fill.fgColor.rgb.endswith("FFC7CE")  # red: 不合格
    assert sheet[f"M{line}"].border.bottom.style == "thin"
    counts = sheet.cell(5 + len(made.rows), 1).value
    assert counts.startswith("等级统计：优秀") and "不合格" in counts
    # Frozen below the headings and right of the names; widths; A4 landscape, one page wide.
    assert sheet.freeze_panes == "C5"
    assert sheet.column_dimensions["B"].width == 18 and sheet.column_dimensions["O"].width == 22
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert int(sheet.page_setup.fitToWidth) == 1 and int(sheet.page_setup.fitToHeight) == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$1:$4"

    details = book["扣分明细"]
    assert [details.cell(3, c).value for c in range(1, 5)] == [
        "县市（园区）",
        "项目",
        "分值",
        "扣分原因",
    ]
    assert details.freeze_panes == "A4" and details.page_setup.orientation == "landscape"
    mine = [
        [details.cell(line, c).value for c in range(1, 5)]
        for line in range(4, details.max_row + 1)
        if details.cell(line, 1).value == county.county.name
    ]
    assert [(item, points) for _name, item, points, _why in mine] == [
        ("第4项", -2),
        ("第7项", -10),
        ("第7项超扣", -10),
        ("媒体曝光", -30),
        ("加分", 2),
    ]
    assert "自治区级媒体或舆情曝光，扣 30 分" in mine[3][3]


def air_row(name, index, last_year, rate, place, action=None):
    return AirRow(0, name, index, last_year, rate, place, False, 0, action, 0)


def test_the_air_quality_ranking_is_a_sheet_and_a_section_when_there_is_one(app, county, month):
    # No air-quality rows: no section at all (the month's own rows, from the demo's readings,
    # are checked in tests/test_assess_demo_air.py).
    assert "空气质量排名" not in reopen(notices.workbook(notices.notice(month, []))).sheetnames
    air = [
        air_row("昌吉市", 4.0, 5.0, 0.2, 1),
        air_row(county.county.name, 4.5, 4.5, 0.0, 2, "通报批评"),
        air_row("新县", 4.1, None, None, None),
    ]
    made = notices.notice(month, air)
    sheet = reopen(notices.workbook(made))["空气质量排名"]
    headings = [sheet.cell(3, c).value for c in range(1, 7)]
    assert headings == ["名次", "县市（园区）", "综合指数", "去年同期", "改善率", "触发后果"]
    line = [sheet.cell(5, c).value for c in range(1, 7)]
    assert line == [2, county.county.name, 4.5, 4.5, 0, "通报批评"]
    assert sheet["A6"].value == "未排名" and sheet["E4"].number_format == "0.0%"
    assert sheet.freeze_panes == "A4" and sheet.page_setup.orientation == "landscape"
    with app.test_request_context():
        html = render_template("assess/notice.html", notice=made, month=month, ranking=True)
    assert 'id="notice-air"' in html and "四、环境空气质量改善排名" in html
    assert "20.0%" in html and "未排名" in html and "五、说明" in html


# --- the pages ---------------------------------------------------------------------------------


def test_the_print_page_shows_the_scores_and_prints_on_a4(client, county, prefecture, month):
    sign_in(client, prefecture)
    page = client.get(f"/assess/notice?month={month:%Y-%m}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    made = notices.notice(month)
    assert made.title in html and made.number in html and made.summary in html
    assert 'class="notice"' in html and 'id="notice-ranking"' in html
    assert county.county.name in html and "<strong>50</strong>" in html and "grade-d" in html
    assert "自治区级媒体或舆情曝光" in html and "约谈" in html
    assert "各县级网格均为第1版" in html
    assert f"/assess/notice.xlsx?month={month:%Y-%m}" in html
    # The print rules live in the page's stylesheet (the CSP refuses inline styles).
    [css] = re.findall(r'href="([^"]*css/app\.css[^"]*)"', html)
    with client.get(css) as served:  # a static file: closed, or it warns
        sheet = served.get_data(as_text=True)
    printed = sheet[sheet.index("/* --- The monthly notice") :]
    assert "@media print" in printed and "@page notice { size: A4" in printed
    assert ".notice-tools { display: none !important; }" in printed
    assert "page: notice" in printed


def test_the_workbook_downloads_with_a_utf8_name(client, county, prefecture, month):
    sign_in(client, prefecture)
    answer = client.get(f"/assess/notice.xlsx?month={month:%Y-%m}")
    assert answer.status_code == 200
    assert answer.mimetype == XLSX
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="notice-{month:%Y-%m}.xlsx"' in disposition
    [encoded] = re.findall(r"filename\*=UTF-8''(\S+)", disposition)
    assert unquote(encoded) == f"考核通报-{month:%Y-%m}.xlsx"
    book = reopen(answer.data)
    assert book["考核排名"]["A1"].value == notices.notice(month).title


def test_a_month_not_frozen_is_refused_with_what_to_do(client, county, prefecture):
    first, _day = open_month()
    sign_in(client, prefecture)
    client.set_cookie("lang", "en")
    for path in ("/assess/notice", "/assess/notice.xlsx"):
        answer = client.get(f"{path}?month={first:%Y-%m}")
        assert answer.status_code == 409, path
        body = answer.get_data(as_text=True)
        assert f"{first:%Y-%m} is not frozen: freeze the month first" in body
        assert "Content-Disposition" not in answer.headers
    assert snapshots.latest(first) == {}  # asking froze nothing


def test_a_county_revised_on_appeal_shows_its_version(client, county, prefecture, month):
    [frozen] = [s for s in snapshots.latest(month).values() if s.county_id == county.county.id]
    appeal = appeals.file(frozen, "item4", "其中一个问题属于邻县", by=county.county_office)
    appeals.decide(appeal, True, "核实属于邻县", by=None, changes={"missed_problems": 1})
    made = notices.notice(month)
    row = row_of(made, county)
    assert (row.version, row.score, row.items[4]) == (2, 51, 39)
    assert made.revised == [row] and "申诉" in row.reason
    assert f"{county.county.name}按第2版计" in made.summary
    sheet = reopen(notices.workbook(made))["考核排名"]
    line = county_line(sheet, county.county.name)
    assert (sheet[f"M{line}"].value, sheet[f"P{line}"].value) == (51, "第2版")
    assert f"{county.county.name}第2版" in sheet["A2"].value
    sign_in(client, prefecture)
    html = client.get(f"/assess/notice?month={month:%Y-%m}").get_data(as_text=True)
    assert '<span class="tag version">第2版</span>' in html
    assert f"{county.county.name}经申诉复核按第2版计" in html


def test_who_may_read_the_notice(client, county, prefecture, month):
    paths = [f"/assess/notice?month={month:%Y-%m}", f"/assess/notice.xlsx?month={month:%Y-%m}"]
    for path in paths:
        assert client.get(path).status_code == 302  # signed out: to the login
    for person, status in [
        (prefecture, 200),
        (county.county_office, 200),  # the notice is addressed to the county's office
        (county.township_head, 403),
        (county.supervisor, 403),
    ]:
        sign_in(client, person)
        for path in paths:
            assert client.get(path).status_code == status, (person.username, path)


# --- the command -------------------------------------------------------------------------------


def test_the_command_freezes_and_exports_the_notice(runner, county, tmp_path):
    first, day = open_month()
    finding(county, day, MISSED)
    target = tmp_path / "通报.xlsx"
    refused = runner.invoke(args=["scores", "month", f"{first:%Y-%m}", "--export", str(target)])
    assert refused.exit_code != 0 and not target.exists()  # not frozen: nothing written
    wrong = tmp_path / "notice.csv"
    bad = runner.invoke(
        args=["scores", "month", f"{first:%Y-%m}", "--freeze", "--export", str(wrong)]
    )
    assert bad.exit_code != 0 and "xlsx" in bad.output and snapshots.latest(first) == {}
    done = runner.invoke(
        args=["scores", "month", f"{first:%Y-%m}", "--freeze", "--export", str(target)]
    )
    assert done.exit_code == 0, done.output
    assert "已冻结" in done.output and str(target) in done.output
    sheet = reopen(target.read_bytes())["考核排名"]
    assert sheet["A1"].value == f"昌吉州{first.year}年{first.month}月网格化环境监管考核情况通报"
    line = county_line(sheet, county.county.name)
    assert (sheet[f"F{line}"].value, sheet[f"M{line}"].value) == (39, 99)


def test_the_month_to_come_is_refused_before_anything(client, prefecture):
    sign_in(client, prefecture)
    later = (local_today().replace(day=28) + timedelta(days=10)).strftime("%Y-%m")
    assert client.get(f"/assess/notice?month={later}").status_code == 400


# --- in a browser ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1440])
def test_the_notice_reads_on_a_phone_and_prints_on_a4(
    browser, live_server, live_app, artifacts_dir, database, width
):
    """Last month in the live demo (frozen, as its history is; frozen here if not): it fits
    the screen's width, and printed only the document shows, its table a table, on A4."""
    with live_app.app_context():
        first = queries.previous_month(local_today().replace(day=1))
        if not snapshots.latest(first):
            snapshots.freeze(first.year, first.month, by=None)
            db.session.commit()
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, "zhou")
    answer = page.goto(f"{live_server}/assess/notice?month={first:%Y-%m}")
    assert answer is not None and answer.status == 200
    assert page.locator("h1.notice-title").inner_text().endswith("网格化环境监管考核情况通报")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot = os.path.join(artifacts_dir, f"notice-{width}-{database.backend}.png")
    page.screenshot(path=shot, full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".notice-tools").is_visible()
    assert page.locator("#notice-ranking thead").is_visible()  # a table again, not cards
    assert page.eval_on_selector("#notice-ranking tr", "tr => getComputedStyle(tr).display") == (
        "table-row"
    )
    if width == 360:  # the printed look, for people to see: A4's width at 96 dpi
        page.set_viewport_size({"width": 794, "height": 1123})
        printed = os.path.join(artifacts_dir, f"notice-print-{database.backend}.png")
        page.screenshot(path=printed, full_page=True)
    pdf = page.pdf(prefer_css_page_size=True)
    [box] = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)[:1]
    assert (round(float(box[0])), round(float(box[1]))) == (595, 842)  # A4 in points
    with open(os.path.join(artifacts_dir, f"notice-{database.backend}.pdf"), "wb") as out:
        out.write(pdf)
    context.close()
