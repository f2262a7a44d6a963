"""Cells of the spreadsheets the app writes (CSV, Excel): text that a spreadsheet would run as a
formula is written as text. Pure.

Every module that writes CSV (csv.writer, csv.DictWriter) or Excel (openpyxl) passes its values
through `spreadsheet_safe`, `safe_row` or `safe_record`; tests/test_cells.py fails for one that
does not. A source named `=HYPERLINK("http://...","点击")` is stored as typed (it is only text in
the app) and neutralised where it leaves the app for a spreadsheet (OWASP, CSV Injection).
"""

from collections.abc import Iterable, Mapping
from typing import TypeVar, overload

# OWASP's list: a spreadsheet reads a cell starting with one of these as a formula (= + - @) or
# strips them in front of one (tab, carriage return). The full-width forms (＝ ＋ － ＠), which
# Chinese input methods type, are added as a precaution: at worst they cost an apostrophe.
FORMULA_STARTS = frozenset("=+-@\t\r" + "\uff1d\uff0b\uff0d\uff20")

T = TypeVar("T")
K = TypeVar("K")


@overload
def spreadsheet_safe(value: str) -> str: ...
@overload
def spreadsheet_safe(value: T) -> T: ...
def spreadsheet_safe(value: object) -> object:
    """`value` as a spreadsheet cell: text that starts like a formula gets a leading apostrophe
    (shown as typed, never run); numbers, dates, None and everything else are left as they are,
    so they stay numbers and dates in the sheet."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def safe_row(row: Iterable[object]) -> list[object]:
    """A row for csv.writer or openpyxl's `append`, every cell through spreadsheet_safe."""
    return [spreadsheet_safe(value) for value in row]


def safe_record(record: Mapping[K, object]) -> dict[K, object]:
    """A row for csv.DictWriter, every value through spreadsheet_safe."""
    return {key: spreadsheet_safe(value) for key, value in record.items()}
