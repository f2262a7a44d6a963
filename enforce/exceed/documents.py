"""The exceedance daily report (超标日报) of one county as an Excel workbook, in Chinese: the
exceedances of the day per enterprise, then the hours of invalid data with their reasons, and
what the county recorded so far. Every cell goes through grid.cells.spreadsheet_safe."""

import io
from datetime import timedelta

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from enforce.exceed.models import DailyReport, DisposalKind
from enforce.exceed.queries import Enterprise, Row
from grid.cells import spreadsheet_safe
from grid.models import Grid

HEADINGS = (
    "序号",
    "企业名称",
    "排放口",
    "污染物",
    "时段",
    "小时均值",
    "排放限值",
    "单位",
    "执行标准",
    "有效分钟数",
    "数据标记",
    "处置情况",
)
WIDTHS = (6, 28, 16, 16, 24, 10, 10, 8, 22, 10, 18, 30)
TITLE = Font(bold=True, size=14)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")


def period(row: Row) -> str:
    start = row.local_hour
    return f"{start:%Y-%m-%d %H:%M}—{start + timedelta(hours=1):%H:%M}"


def disposal_text(row: Row) -> str:
    if row.disposal is None:
        return "待处置"
    if row.disposal.kind == DisposalKind.CASE:
        return f"立案查处（案号：{row.disposal.case_number}）"
    return f"不予立案调查处理意见：{row.disposal.opinion}"


def _line(number: int, row: Row, enterprise: Enterprise, last: str) -> list[object]:
    e = row.item
    return [
        number,
        enterprise.source.name,
        row.point,
        row.pollutant,
        period(row),
        e.average,
        e.limit_value,
        e.unit or "",
        e.standard or "",
        e.minutes if e.minutes is not None else "小时数据",
        e.flag,
        last,
    ]


def workbook(report: DailyReport, county: Grid, enterprises: list[Enterprise]) -> bytes:
    """The report as an .xlsx file's bytes."""
    book = Workbook()
    sheet = book.active
    sheet.title = "超标日报"
    day = report.day
    sheet.cell(1, 1, spreadsheet_safe(f"{county.name}在线监测超标日报")).font = TITLE
    sheet.cell(
        2,
        1,
        spreadsheet_safe(
            f"日期：{day.year}年{day.month}月{day.day}日　"
            f"签发：{report.issued_at:%Y-%m-%d %H:%M}（UTC）　"
            "依据：昌吉州在线监测超标数据规范管理工作流程（试行）"
        ),
    )
    valid = [(r, e) for e in enterprises for r in e.rows if r.valid]
    invalid = [(r, e) for e in enterprises for r in e.rows if not r.valid]
    line = 4
    sheet.cell(line, 1, spreadsheet_safe(f"一、超标数据（{len(valid)}条）")).font = BOLD
    line = _table(
        sheet,
        line + 1,
        [_line(i, r, e, disposal_text(r)) for i, (r, e) in enumerate(valid, 1)],
        "当日无超标数据。",
    )
    sheet.cell(line + 1, 1, spreadsheet_safe(f"二、无效数据（{len(invalid)}条）")).font = BOLD
    rows = [_line(i, r, e, r.item.invalid_reason or "") for i, (r, e) in enumerate(invalid, 1)]
    _table(sheet, line + 2, rows, "当日无无效数据。", last_heading="无效原因")
    for number, width in enumerate(WIDTHS, 1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(sheet, top: int, rows: list[list[object]], empty: str, last_heading: str = "") -> int:
    """Headings and rows from line `top`; the next free line."""
    headings = list(HEADINGS)
    if last_heading:
        headings[-1] = last_heading
    for number, text in enumerate(headings, 1):
        sheet.cell(top, number, spreadsheet_safe(text)).font = BOLD
    line = top + 1
    if not rows:
        sheet.cell(line, 1, spreadsheet_safe(empty))
        return line + 1
    for row in rows:
        for number, value in enumerate(row, 1):
            sheet.cell(line, number, spreadsheet_safe(value)).alignment = WRAP
        line += 1
    return line
