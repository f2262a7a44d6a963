"""The monthly notice (通报) of the assessment, made from the month's frozen snapshots only: the
ranking with scores and grades, every deduction with its reason, the consequences triggered,
and which counties count at a revised version; and the month's air-quality ranking
(assess/air.py, from the readings: it has no snapshot). A notice of a month not frozen is
refused: made from the data as it stands, it could not be made again.

The notice is an official document, so its words are Chinese whatever the reader's language
(like grid/scoring.py's). `workbook` writes it as the Excel file offices expect: a title row,
merged two-row headers, column widths, frozen panes, A4 landscape fitted to the width."""

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from assess import air as air_quality
from assess import queries, snapshots
from assess.air import AirRow
from assess.models import MonthSnapshot
from extensions import db
from grid import scoring
from grid.cells import spreadsheet_safe
from grid.errors import ServiceError
from grid.queries import root_grid
from grid.time import datetime_local, local_date

# What each item is worth (RULES §5), by line key: an item line below it is a deduction.
FULL = {
    **{f"item{n}": points for n, points in scoring.SYSTEM_ITEMS.items()},
    "item4": scoring.ITEM_4_FULL,
    "item5": scoring.ITEM_5_FULL,
    "item6": scoring.ITEM_6_FULL,
    "item7": scoring.ITEM_7_FULL,
}
# Short names for the workbook's columns; the full ones are scoring.ITEM_NAMES.
SHORT_ITEM_NAMES = {
    1: "网格建立",
    2: "分网格长覆盖",
    3: "信息公开",
    4: "未发现问题",
    5: "未及时交办",
    6: "整改不到位",
    7: "督察问题整改",
}
LINE_NAMES = {
    **{f"item{n}": f"第{n}项" for n in range(1, 8)},
    "spill": "第7项超扣",
    "media": "媒体曝光",
    "bonus": "加分",
    "veto": "一票否决",
    "fail": "直接评为不合格",
}
SYSTEM_FULL = sum(scoring.SYSTEM_ITEMS.values())
OPERATION_FULL = scoring.ITEM_4_FULL + scoring.ITEM_5_FULL + scoring.ITEM_6_FULL
OPERATION_FULL += scoring.ITEM_7_FULL


class NotFrozen(ServiceError):
    """The month has no snapshot yet: freeze it first."""


@dataclass(frozen=True)
class Deduction:
    """A line of a county's month that took points off (or added the bonus), with why."""

    key: str  # the breakdown line's key: "item4", "spill", "media", "bonus", "veto", "fail"
    item: str  # its name in the notice
    points: int  # lost (negative), the bonus (positive), or 0 for a veto or forced fail
    words: str


@dataclass(frozen=True)
class NoticeRow:
    place: int  # equal scores share a place
    county_id: int
    county: str
    score: int
    grade: str
    items: dict[int, int]  # items 1-7 as awarded
    system: int
    operation: int
    bonus: int
    media: int  # the media deduction (points taken off, >= 0)
    spill: int  # item 7 below zero (<= 0)
    forced: list[str]
    deductions: list[Deduction]
    consequences: list[str]
    version: int
    reason: str  # why this version exists ("冻结" for the first)
    version_at: datetime  # when this version was made (naive UTC)


@dataclass(frozen=True)
class Notice:
    title: str
    number: str  # the document's number line
    prefecture: str
    month: date  # the first day
    frozen_at: datetime  # when the month was first frozen (naive UTC)
    issued_on: date  # the local day of the latest version counted
    rows: list[NoticeRow]
    grades: dict[str, int]  # how many counties at each grade, best first
    summary: str
    air: list[AirRow] = field(default_factory=list)  # the air-quality ranking, place order

    @property
    def revised(self) -> list[NoticeRow]:
        """The counties counted at a version after the first (an accepted appeal, a correction)."""
        return [row for row in self.rows if row.version > 1]

    @property
    def month_words(self) -> str:
        return f"{self.month.year}年{self.month.month}月"


def short_name(name: str) -> str:
    """The prefecture's name as notices write it: 昌吉回族自治州 -> 昌吉州."""
    found = _AUTONOMOUS.fullmatch(name)
    return f"{found[1]}州" if found else name


_AUTONOMOUS = re.compile(
    r"(.+?)(?:(?:回|哈萨克|蒙古|柯尔克孜|藏|彝|苗|侗|布依|土家|哈尼|壮|傣|白|傈僳|景颇|朝鲜|羌)族?)+"
    r"自治州"
)


def notice(first: date, air: Sequence[AirRow] | None = None) -> Notice:
    """The notice of the month beginning on `first`, from its frozen snapshots (each county at
    its latest version), with the month's air-quality ranking (assess/air.py; `air` given
    instead, when the caller has it)."""
    frozen = snapshots.latest(first)
    if not frozen:
        raise NotFrozen(
            _l(
                "%(month)s is not frozen: freeze the month first; a notice is made only from "
                "a frozen month.",
                month=f"{first:%Y-%m}",
            )
        )
    rows = queries.month_rows(first)
    actions = queries.consequences(first, rows)
    made = []
    for month_row in rows:
        snapshot = frozen[month_row.county_id]
        place = 1 + sum(1 for r in rows if r.score > month_row.score)
        made.append(_row(place, month_row.name, snapshot, actions.get(month_row.county_id, [])))
    root = root_grid()
    prefecture = short_name(root.name) if root else ""
    grades = {grade: sum(1 for r in made if r.grade == grade) for grade in scoring.GRADES}
    title = f"{prefecture}{first.year}年{first.month}月网格化环境监管考核情况通报"
    return Notice(
        title=title,
        number=f"{prefecture}网格办〔{first.year}〕{first.month}号",
        prefecture=prefecture,
        month=first,
        frozen_at=_first_frozen(first),
        issued_on=local_date(max(r.version_at for r in made)),
        rows=made,
        grades=grades,
        summary=_summary(first, prefecture, made, grades),
        air=list(air_ranking(first) if air is None else air),
    )


def air_ranking(first: date) -> list[AirRow]:
    """The month's air-quality ranking (RULES §6), or none when no county has an index that
    month (no readings: nothing to notify). It is computed from the readings, not frozen."""
    rows = air_quality.month_ranking(first)
    return rows if any(row.index is not None for row in rows) else []


def _row(place: int, name: str, snapshot: MonthSnapshot, actions: list[str]) -> NoticeRow:
    result = snapshot.result
    return NoticeRow(
        place=place,
        county_id=snapshot.county_id,
        county=name,
        score=result["score"],
        grade=result["grade"],
        items={int(n): points for n, points in result["items"].items()},
        system=result["system"],
        operation=result["operation"],
        bonus=result["bonus"],
        media=result["media"],
        spill=result["spill"],
        forced=list(result["forced_fail"]),
        deductions=deductions(result["lines"]),
        consequences=list(actions),
        version=snapshot.version,
        reason=snapshot.reason,
        version_at=snapshot.frozen_at,
    )


def deductions(lines: list[dict[str, Any]]) -> list[Deduction]:
    """The lines of a breakdown that changed the score or the grade: an item below its full
    points, and every spill, media, bonus, veto and forced-fail line (each exists only when it
    applies)."""
    out = []
    for line in lines:
        key, points = line["key"], line["points"]
        if key in FULL:
            if points < FULL[key]:
                out.append(Deduction(key, LINE_NAMES[key], points - FULL[key], line["words"]))
        else:
            out.append(Deduction(key, LINE_NAMES.get(key, key), points, line["words"]))
    return out


def _first_frozen(first: date) -> datetime:
    return db.session.scalar(
        sa.select(sa.func.min(MonthSnapshot.frozen_at)).where(
            MonthSnapshot.month == first, MonthSnapshot.version == 1
        )
    ) or db.session.scalar(
        sa.select(sa.func.min(MonthSnapshot.frozen_at)).where(MonthSnapshot.month == first)
    )


def _names(rows: Sequence[NoticeRow]) -> str:
    return "、".join(r.county for r in rows)


def _summary(first: date, prefecture: str, rows: list[NoticeRow], grades: dict[str, int]) -> str:
    """The notice's opening paragraph: how many took part, the grades, the top and the bottom,
    the forced fails, the consequences and the revised counties."""
    counts = "，".join(f"{grade}{n}个" for grade, n in grades.items())
    parts = [
        f"{first.year}年{first.month}月，{prefecture}{len(rows)}个县级网格（县市、园区）"
        f"参加网格化环境监管考核，其中{counts}。"
    ]
    best, worst = rows[0].score, rows[-1].score
    top = [r for r in rows if r.score == best]
    bottom = [r for r in rows if r.score == worst]
    if best == worst:
        parts.append(f"各县级网格得分均为{best}分。")
    else:
        parts.append(f"{_names(top)}得分最高（{best}分），{_names(bottom)}得分最低（{worst}分）。")
    forced = [r for r in rows if r.forced]
    if forced:
        parts.append(f"{_names(forced)}本月直接评为不合格。")
    triggered = [f"{r.county}：{'、'.join(r.consequences)}" for r in rows if r.consequences]
    if triggered:
        parts.append(f"依据考核办法，{'；'.join(triggered)}。")
    revised = [f"{r.county}按第{r.version}版计" for r in rows if r.version > 1]
    if revised:
        parts.append(f"经申诉复核，{'，'.join(revised)}。")
    return "".join(parts)


# --- the workbook ------------------------------------------------------------------------------

GRADE_COLOURS = {  # fill, font: Excel's good / neutral / bad cell styles
    scoring.EXCELLENT: ("C6EFCE", "006100"),
    scoring.GOOD: ("DDEBF7", "1F4E78"),
    scoring.PASS: ("FFEB9C", "9C5700"),
    scoring.FAIL: ("FFC7CE", "9C0006"),
}
_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
HEADING_FILL = PatternFill("solid", fgColor="E7EEEA")
HEADING_FONT = Font(bold=True)
RANKING, DETAILS, AIR = "考核排名", "扣分明细", "空气质量排名"

# The ranking sheet's columns: (first row, second row or None when merged down, width).
RANKING_COLUMNS = [
    ("名次", None, 6),
    ("县市（园区）", None, 18),
    *[
        (f"体系建设（{SYSTEM_FULL}分）", f"{n}.{SHORT_ITEM_NAMES[n]}（{points}）", 10)
        for n, points in scoring.SYSTEM_ITEMS.items()
    ],
    *[
        (f"运行管理（{OPERATION_FULL}分）", f"{n}.{SHORT_ITEM_NAMES[n]}（{FULL[f'item{n}']}）", 10)
        for n in (4, 5, 6, 7)
    ],
    ("加分", None, 7),
    ("媒体扣分", None, 8),
    ("第7项超扣", None, 8),
    ("总分", None, 7),
    ("等级", None, 8),
    ("触发后果", None, 22),
    ("版本", None, 8),
]
HEADER_ROWS = 4  # title, subtitle, two rows of headings


def workbook(made: Notice) -> bytes:
    """The notice as an .xlsx file: the ranking, the deductions and (when given) the
    air-quality ranking, each sheet ready to print on A4 landscape."""
    book = Workbook()
    ranking = book.active
    ranking.title = RANKING
    _ranking_sheet(ranking, made)
    _details_sheet(book.create_sheet(DETAILS), made)
    if made.air:
        _air_sheet(book.create_sheet(AIR), made)
    book.properties.title = made.title
    book.properties.creator = "GridPatrol"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def version_note(made: Notice) -> str:
    revised = "，".join(f"{r.county}第{r.version}版" for r in made.revised)
    return f"各县市按最新版本计，其中{revised}（申诉复核后）" if revised else "均为第1版"


def _ranking_sheet(sheet: Worksheet, made: Notice) -> None:
    width = len(RANKING_COLUMNS)
    frozen = datetime_local(made.frozen_at)
    subtitle = f"考核月份：{made.month_words}　冻结时间：{frozen}　版本：{version_note(made)}"
    _title(sheet, made.title, subtitle, width)
    groups: dict[str, list[int]] = {}
    for number, (top, below, column_width) in enumerate(RANKING_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column_width
        if below is None:
            sheet.merge_cells(start_row=3, start_column=number, end_row=4, end_column=number)
            _heading(sheet.cell(3, number, spreadsheet_safe(top)))
            _heading(sheet.cell(4, number))
        else:
            groups.setdefault(top, []).append(number)
            _heading(sheet.cell(4, number, spreadsheet_safe(below)))
    for top, numbers in groups.items():
        sheet.merge_cells(start_row=3, start_column=numbers[0], end_row=3, end_column=numbers[-1])
        _heading(sheet.cell(3, numbers[0], spreadsheet_safe(top)))
        for number in numbers[1:]:
            _heading(sheet.cell(3, number))
    sheet.row_dimensions[4].height = 32
    for offset, row in enumerate(made.rows):
        values = [
            row.place,
            row.county,
            *[row.items[n] for n in range(1, 8)],
            row.bonus,
            -row.media,
            row.spill,
            row.score,
            row.grade,
            "、".join(row.consequences),
            f"第{row.version}版",
        ]
        for number, value in enumerate(values, start=1):
            cell = sheet.cell(HEADER_ROWS + 1 + offset, number, spreadsheet_safe(value))
            cell.border = BORDER
            cell.alignment = LEFT if number in (2, width - 1) else CENTRE
        grade = sheet.cell(HEADER_ROWS + 1 + offset, width - 2)
        fill, font = GRADE_COLOURS[row.grade]
        grade.fill = PatternFill("solid", fgColor=fill)
        grade.font = Font(bold=True, color=font)
    last = HEADER_ROWS + len(made.rows)
    counts = "，".join(f"{grade}{n}个" for grade, n in made.grades.items())
    sheet.merge_cells(start_row=last + 1, start_column=1, end_row=last + 1, end_column=width)
    sheet.cell(last + 1, 1, spreadsheet_safe(f"等级统计：{counts}")).alignment = LEFT
    sheet.freeze_panes = sheet.cell(HEADER_ROWS + 1, 3)  # headings and the names stay in view
    _print_setup(sheet, f"1:{HEADER_ROWS}")


def _details_sheet(sheet: Worksheet, made: Notice) -> None:
    headings = [("县市（园区）", 18), ("项目", 14), ("分值", 8), ("扣分原因", 80)]
    _title(sheet, f"{made.title}：扣分明细", f"考核月份：{made.month_words}", len(headings))
    for number, (text, column_width) in enumerate(headings, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column_width
        _heading(sheet.cell(3, number, spreadsheet_safe(text)))
    line = 4
    for row in made.rows:
        for deduction in row.deductions:
            values = [row.county, deduction.item, deduction.points, deduction.words]
            for number, value in enumerate(values, start=1):
                cell = sheet.cell(line, number, spreadsheet_safe(value))
                cell.border = BORDER
                cell.alignment = CENTRE if number == 3 else LEFT
            line += 1
    sheet.freeze_panes = "A4"
    _print_setup(sheet, "1:3")


def _air_sheet(sheet: Worksheet, made: Notice) -> None:
    headings = [
        ("名次", 6),
        ("县市（园区）", 18),
        ("综合指数", 10),
        ("去年同期", 10),
        ("改善率", 10),
        ("触发后果", 22),
    ]
    title = f"{made.prefecture}{made.month_words}各县市环境空气质量改善排名"
    _title(sheet, title, "按六参数综合指数同比改善率排名", len(headings))
    for number, (text, column_width) in enumerate(headings, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column_width
        _heading(sheet.cell(3, number, spreadsheet_safe(text)))
    for line, row in enumerate(made.air, start=4):
        values = [
            row.place if row.place is not None else "未排名",
            row.name,
            row.index,
            row.last_year,
            row.rate,
            row.action or "",
        ]
        for number, value in enumerate(values, start=1):
            cell = sheet.cell(line, number, spreadsheet_safe(value))
            cell.border = BORDER
            cell.alignment = LEFT if number in (2, 6) else CENTRE
        sheet.cell(line, 3).number_format = sheet.cell(line, 4).number_format = "0.00"
        sheet.cell(line, 5).number_format = "0.0%"
    sheet.freeze_panes = "A4"
    _print_setup(sheet, "1:3")


def _title(sheet: Worksheet, title: str, subtitle: str, width: int) -> None:
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    cell = sheet.cell(1, 1, spreadsheet_safe(title))
    cell.font = Font(bold=True, size=16)
    cell.alignment = CENTRE
    sheet.row_dimensions[1].height = 30
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    cell = sheet.cell(2, 1, spreadsheet_safe(subtitle))
    cell.alignment = CENTRE
    sheet.row_dimensions[2].height = 20


def _heading(cell) -> None:
    cell.font = HEADING_FONT
    cell.fill = HEADING_FILL
    cell.alignment = CENTRE
    cell.border = BORDER


def _print_setup(sheet: Worksheet, title_rows: str) -> None:
    """A4 landscape, all the columns on one page's width, the headings on every page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it needs
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.print_title_rows = title_rows
    sheet.page_margins.left = sheet.page_margins.right = 0.4
