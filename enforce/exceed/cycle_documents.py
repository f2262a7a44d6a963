"""The monthly cycle's documents as Excel workbooks, in Chinese (RULES §8): the monthly notice
(月度通报: each county's counts and report, every step against its deadline, the late steps
per party for accountability), the review meeting's minutes (会议纪要) and the clue handover
list (线索移交清单). Every cell goes through grid.cells.spreadsheet_safe."""

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from enforce.exceed import cycle
from enforce.exceed.cycle import State
from enforce.exceed.cycle_services import CountyCounts, MonthCycle, StepStatus
from grid.cells import spreadsheet_safe

THIN = Side(style="thin", color="808080")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
HEADING_FONT = Font(bold=True)
HEADING_FILL = PatternFill("solid", fgColor="DDEBF7")
LATE_FONT = Font(bold=True, color="C00000")

STATE_WORDS = {
    State.DONE: "按时完成",
    State.DONE_LATE: "逾期完成",
    State.OVERDUE: "逾期未完成",
    State.DUE_SOON: "未到期",
    State.UPCOMING: "未到期",
}


def month_words(made: MonthCycle) -> str:
    return f"{made.month.year}年{made.month.month}月"


def state_words(status: StepStatus) -> str:
    """The state as the notice says it: 逾期3天完成, 逾期未完成（已逾期2天）, 按时完成."""
    if status.state is State.DONE_LATE:
        return f"逾期{status.days}天完成"
    if status.state is State.OVERDUE:
        return f"逾期未完成（已逾期{status.days}天）"
    return STATE_WORDS[status.state]


def notice_title(made: MonthCycle, prefecture: str) -> str:
    return f"{prefecture}{month_words(made)}在线监控超标数据处置情况通报"


def notice_workbook(made: MonthCycle, prefecture: str) -> bytes:
    """月度通报: the counties' month, the steps against their dates, the late steps."""
    book = Workbook()
    sheet = book.active
    sheet.title = "月度通报"
    title = notice_title(made, prefecture)
    headings = [
        ("县市", 16),
        ("超标小时数", 11),
        ("立案查处（件）", 12),
        ("调查处理意见（份）", 14),
        ("未处置（小时）", 12),
        ("截止日期", 12),
        ("报送日期", 12),
        ("报送情况", 20),
    ]
    _title(sheet, title, f"通报月份：{month_words(made)}　统计日期：{made.today.isoformat()}", 8)
    _headings(sheet, 3, headings)
    row = 4
    for line in made.counties:
        counts = line.counts or CountyCounts()
        done = line.status.done_on.isoformat() if line.status.done_on else "未报送"
        _values(
            sheet,
            row,
            [
                line.party,
                counts.exceedances,
                counts.cases,
                counts.opinions,
                counts.undisposed,
                line.status.due.isoformat(),
                done,
                state_words(line.status),
            ],
            late=line.status.late,
        )
        row += 1
    row += 1
    _subtitle(sheet, row, "二、月度工作环节完成情况", 8)
    row += 1
    _headings(sheet, row, [("环节", 16), ("责任单位", 11), ("截止日期", 12), ("完成日期", 14)])
    _headings(sheet, row, [("完成情况", 12)], start=5)
    row += 1
    for line in made.steps:
        done = line.status.done_on.isoformat() if line.status.done_on else "未完成"
        _values(
            sheet,
            row,
            [
                cycle.STEP_WORDS[line.step],
                line.party,
                line.status.due.isoformat(),
                done,
                state_words(line.status),
            ],
            late=line.status.late,
        )
        row += 1
    row += 1
    _subtitle(sheet, row, "三、逾期情况（纳入问责）", 8)
    row += 1
    _headings(sheet, row, [("单位", 16), ("逾期环节数", 11)])
    row += 1
    if not made.late:
        sheet.cell(row, 1, spreadsheet_safe("无逾期环节"))
    for party, count in sorted(made.late.items(), key=lambda item: (-item[1], item[0])):
        _values(sheet, row, [party, count], late=True)
        row += 1
    return _save(book, title)


def minutes_workbook(made: MonthCycle, prefecture: str) -> bytes:
    """会议纪要: the review meeting's minutes, one heading and its text per row."""
    minutes = made.minutes
    if minutes is None:
        raise ValueError("no minutes recorded for this month")
    book = Workbook()
    sheet = book.active
    sheet.title = "会议纪要"
    title = f"{prefecture}{month_words(made)}在线监控超标案件会审会议纪要"
    _title(sheet, title, f"会议日期：{minutes.met_on.isoformat()}", 2)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 90
    parts = [
        ("一、月度汇总", minutes.summary),
        ("二、各县市案件情况", minutes.county_cases or "无"),
        ("三、会审结论", minutes.conclusions),
        ("四、升级处理意见", minutes.escalations or "无"),
        ("五、问责线索", minutes.accountability or "无"),
    ]
    for row, (heading, text) in enumerate(parts, start=3):
        _heading(sheet.cell(row, 1, spreadsheet_safe(heading)))
        cell = sheet.cell(row, 2, spreadsheet_safe(text))
        cell.alignment = LEFT
        cell.border = BORDER
    return _save(book, title)


def clues_workbook(made: MonthCycle, prefecture: str) -> bytes:
    """线索移交清单: each clue, its flags and who handles it (支队 or its county)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "线索移交清单"
    title = f"{prefecture}{month_words(made)}在线监控超标线索移交清单"
    kept = sum(1 for c in made.clues if c.kept)
    subtitle = f"线索{len(made.clues)}条，支队留办{kept}条，移交县市{len(made.clues) - kept}条"
    headings = [
        ("序号", 6),
        ("企业名称", 28),
        ("所属县市", 14),
        ("超标小时数", 11),
        ("升级处理", 9),
        ("重点排污单位", 12),
        ("疑难", 6),
        ("承办单位", 20),
    ]
    _title(sheet, title, subtitle, len(headings))
    _headings(sheet, 3, headings)
    for number, clue in enumerate(made.clues, start=1):
        source, county = made_names(made, clue.source_id, clue.county_id)
        _values(
            sheet,
            3 + number,
            [
                number,
                source,
                county,
                clue.exceedances,
                "是" if clue.escalated else "否",
                "是" if clue.key_polluter else "否",
                "是" if clue.difficult else "否",
                cycle.BODY_WORDS[cycle.Body.DETACHMENT] if clue.kept else county,
            ],
        )
    return _save(book, title)


def made_names(made: MonthCycle, source_id: int, county_id: int) -> tuple[str, str]:
    """The enterprise's and county's names of a clue (MonthCycle.names)."""
    return made.source_names.get(source_id, ""), made.county_names.get(county_id, "")


# --- cells ------------------------------------------------------------------------------------


def _save(book: Workbook, title: str) -> bytes:
    book.properties.title = title
    book.properties.creator = "GridPatrol"
    for sheet in book.worksheets:
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title(sheet: Worksheet, title: str, subtitle: str, width: int) -> None:
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    cell = sheet.cell(1, 1, spreadsheet_safe(title))
    cell.font = Font(bold=True, size=16)
    cell.alignment = CENTRE
    sheet.row_dimensions[1].height = 30
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    sheet.cell(2, 1, spreadsheet_safe(subtitle)).alignment = CENTRE


def _subtitle(sheet: Worksheet, row: int, text: str, width: int) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    cell = sheet.cell(row, 1, spreadsheet_safe(text))
    cell.font = HEADING_FONT
    cell.alignment = LEFT


def _headings(
    sheet: Worksheet, row: int, headings: Sequence[tuple[str, int]], start: int = 1
) -> None:
    for number, (text, width) in enumerate(headings, start=start):
        letter = get_column_letter(number)
        current = sheet.column_dimensions[letter].width or 0
        sheet.column_dimensions[letter].width = max(current, width)
        _heading(sheet.cell(row, number, spreadsheet_safe(text)))


def _heading(cell) -> None:
    cell.font = HEADING_FONT
    cell.fill = HEADING_FILL
    cell.alignment = CENTRE
    cell.border = BORDER


def _values(sheet: Worksheet, row: int, values: Sequence[object], late: bool = False) -> None:
    for number, value in enumerate(values, start=1):
        cell = sheet.cell(row, number, spreadsheet_safe(value))
        cell.border = BORDER
        cell.alignment = LEFT if number == 1 else CENTRE
        if late:
            cell.font = LATE_FONT
