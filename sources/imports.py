"""The special-supervision list (特殊监管企业台账, 004 annex 2) as a CSV file. Pure: text in, rows
out, every fault reported at once (RULES §9: crime, fine >= 200,000 yuan, 3+ complaints, ...)."""

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from grid.imports import ImportRejected, cell_fault, csv_records

# The annex's own column names and the English ones; 序号/no and 备注/note may be left out.
COLUMNS = {
    "序号": "no",
    "企业名称": "name",
    "所在县市": "county",
    "纳入原因": "reason",
    "备注": "note",
    "no": "no",
    "name": "name",
    "county": "county",
    "reason": "reason",
    "note": "note",
}
REQUIRED = ("name", "county", "reason")
# The list shortens names: 木垒县 for 木垒哈萨克自治县, 准东 for 准东经济技术开发区.
_SUFFIX = re.compile(r"(哈萨克自治县|回族自治县|自治县|市|县|区)$")
MAX_NAME = 120
MAX_REASON = 200


@dataclass(frozen=True)
class SpecialRow:
    line: int
    name: str
    county_id: int
    reason: str
    note: str | None


def short_name(name: str) -> str:
    """A county's name without the suffixes the list drops (市, 县, 区, 自治县 ...)."""
    name = name.strip()
    stripped = _SUFFIX.sub("", name)
    return stripped or name


def resolve_county(text: str, counties: Mapping[str, int]) -> tuple[int | None, str | None]:
    """(id, None) for a level-2 grid named exactly, by its short form or by a unique prefix;
    (None, why) otherwise."""
    text = text.strip()
    if not text:
        return None, "no county given"
    if text in counties:
        return counties[text], None
    short = short_name(text)
    same = {gid for name, gid in counties.items() if short_name(name) == short}
    if len(same) == 1:
        return same.pop(), None
    if not same:
        same = {gid for name, gid in counties.items() if name.startswith((text, short))}
        if len(same) == 1:
            return same.pop(), None
    if same:
        names = sorted(n for n, gid in counties.items() if gid in same)
        return None, f"county {text!r} is ambiguous ({', '.join(names)})"
    return None, f"unknown county {text!r}"


def _cells(row: list[str]) -> list[str]:
    return [c.strip() for c in row]


def parse_special_list(text: str, counties: Mapping[str, int]) -> list[SpecialRow]:
    """Rows of the special-supervision list; ImportRejected lists every fault (all or nothing).

    `counties` maps the names of the level-2 grids to their ids.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    columns: list[str | None] | None = None
    problems: list[tuple[str, str]] = []
    rows: list[SpecialRow] = []
    seen: dict[tuple[str, int], int] = {}
    for raw in csv_records(reader, lambda: reader.line_num, problems):
        line = reader.line_num
        cells = _cells(raw)
        if not any(cells):
            continue
        faults = [
            f"cell {n} ({cell[:20]!r}) {fault}"
            for n, cell in enumerate(cells, start=1)
            if (fault := cell_fault(cell))
        ]
        if faults:
            problems.append(("header" if columns is None else f"line {line}", "; ".join(faults)))
            if columns is None:
                raise ImportRejected(problems)
            continue
        if columns is None:
            if sum(1 for c in cells if c) == 1 and cells[0] not in COLUMNS:
                continue  # a title line above the header, as in the annex
            columns = [COLUMNS.get(c.lower()) for c in cells]
            missing = [c for c in REQUIRED if c not in columns]
            unknown = [c for c, known in zip(cells, columns, strict=True) if c and known is None]
            if missing or unknown:
                problems.append(
                    (
                        "header",
                        "expected the columns 序号,企业名称,所在县市,纳入原因,备注 "
                        "or no,name,county,reason,note"
                        + (f"; missing: {', '.join(missing)}" if missing else "")
                        + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                    )
                )
                raise ImportRejected(problems)
            continue
        values = {col: cells[i] if i < len(cells) else "" for i, col in enumerate(columns) if col}
        where = f"line {line}"
        extra = [c for c in cells[len(columns) :] if c]
        if extra:
            problems.append((where, f"more cells than columns: {', '.join(extra)}"))
        name, reason = values.get("name", ""), values.get("reason", "")
        if not name:
            problems.append((where, "empty name"))
        elif len(name) > MAX_NAME:
            problems.append((where, f"name longer than {MAX_NAME} characters"))
        if not reason:
            problems.append((where, "empty reason"))
        elif len(reason) > MAX_REASON:
            problems.append((where, f"reason longer than {MAX_REASON} characters"))
        county_id, why = resolve_county(values.get("county", ""), counties)
        if why:
            problems.append((where, why))
        if not name or not reason or county_id is None:
            continue
        key = (name, county_id)
        if key in seen:
            problems.append((where, f"{name} is listed twice (also line {seen[key]})"))
            continue
        seen[key] = line
        rows.append(SpecialRow(line, name, county_id, reason, values.get("note") or None))
    if columns is None:
        problems.append(("header", "the file is empty"))
    if problems:
        raise ImportRejected(problems)
    return rows
