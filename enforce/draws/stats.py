"""The quarter's statistics of an office's random inspections as an Excel workbook (004 七(四):
《生态环境"双随机、一公开"情况统计表》, filed within 5 days of the quarter's end): per category the
units eligible, drawn and done, the minimum and whether it is met, and the outcomes 1..7.
Headings are official text, in Chinese; every cell goes through grid.cells.spreadsheet_safe."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from enforce.draws.outcomes import OUTCOMES
from enforce.draws.queries import QuarterRow
from enforce.draws.ratios import CATEGORY_NAMES_ZH
from grid.cells import safe_row, spreadsheet_safe

HEADINGS = (
    "监管对象类别",
    "监管对象数量",
    "抽查数量",
    "完成数量",
    "抽查比例(%)",
    "最低抽查数量",
    "是否达到最低比例",
    *(f"{n}.{phrase}" for n, phrase in enumerate(OUTCOMES, start=1)),
)


def title(office_name: str, year: int, quarter: int) -> str:
    return f"{office_name}{year}年第{quarter}季度生态环境“双随机、一公开”情况统计表"


def workbook(office_name: str, year: int, quarter: int, rows: list[QuarterRow]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = f"{year}Q{quarter}"
    heading = title(office_name, year, quarter)
    sheet.append([spreadsheet_safe(heading)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADINGS))
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    sheet.append(safe_row(HEADINGS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        sheet.append(
            safe_row(
                [
                    CATEGORY_NAMES_ZH[row.category],
                    row.eligible,
                    row.drawn,
                    row.done,
                    row.percent if row.percent is not None else "",
                    row.minimum,
                    "是" if row.met else "否",
                    *row.outcomes,
                ]
            )
        )
    sheet.column_dimensions["A"].width = 16
    book.properties.title = heading
    book.properties.creator = "GridPatrol"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
