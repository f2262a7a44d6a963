"""Parsing and checking of division CSVs and boundary GeoJSON. Pure: text in, rows or problems out.

Nothing here touches the database: the services first parse and check a whole file, and write
only when every row or feature is sound, so an import is all-or-nothing.
"""

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from grid.geo import coords_transformer, gcj02_to_wgs84_arrays
from grid.tiling import as_multipolygon

LEVELS = {
    "prefecture": 1,
    "county": 2,
    "park": 2,
    "township": 3,
    "village": 4,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
}
_CODE = re.compile(r"^\d{12}$")
_SHORT_CODE = re.compile(r"^\d{6}$|^\d{9}$|^\d{12}$")
CRS_CHOICES = ("gcj02", "wgs84")
_LONLAT_CRS = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4326",
    "CRS84",
    "OGC:CRS84",
}


class ImportRejected(Exception):
    """The file was refused; `problems` lists (where, what) for every fault found."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))


# --- reading a file: what any import checks before its own rules ---------------------------------

T = TypeVar("T")
# Control characters (C0, DEL, C1): a name or code never holds one; a NUL byte usually means the
# file is not text at all (UTF-16, a spreadsheet saved in its own format).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def decode_text(data: bytes) -> str:
    """The text of an imported file, which must be UTF-8 (a byte-order mark is dropped); a byte
    that is not UTF-8 is refused with its line and its place in the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raw, at = exc.object, exc.start
        line = raw.count(b"\n", 0, at) + 1
        column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
        raise ImportRejected(
            [
                (
                    f"line {line}",
                    f"not UTF-8 text: byte 0x{raw[at]:02X} at byte {column} of the line "
                    "(save the file as UTF-8)",
                )
            ]
        ) from exc


def cell_fault(value: str) -> str | None:
    """Why a cell cannot be imported as text (a NUL byte, a control character), or None."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    char = found.group()
    return (
        "contains a NUL byte" if char == "\x00" else f"contains control character U+{ord(char):04X}"
    )


def csv_records(
    records: Iterator[T], line: Callable[[], int], problems: list[tuple[str, str]]
) -> Iterator[T]:
    """The records of a csv reader. One the csv module cannot read (a field over its size limit,
    most often after a quote left open) ends the file: ImportRejected with the problems found so
    far and this one, at the line where reading stopped."""
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRejected([*problems, (f"line {line()}", csv_error(exc))]) from exc
        yield record


def csv_error(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (
            f"a field is longer than {csv.field_size_limit():,} characters, the most a CSV field "
            "may hold here (a quote left open?)"
        )
    return f"cannot be read as CSV: {exc}"


@dataclass(frozen=True)
class DivisionRow:
    line: int
    code: str
    name: str
    level: int
    parent_code: str | None


def normalise_code(raw: str) -> str | None:
    """6-, 9- or 12-digit administrative code -> 12 digits (NBS style), or None if malformed."""
    raw = raw.strip()
    if not _SHORT_CODE.match(raw):
        return None
    return raw.ljust(12, "0")


def parse_divisions(
    text: str,
    existing: Mapping[str, int] | None = None,
    skip_name_prefixes: Iterable[str] = (),
) -> tuple[list[DivisionRow], list[DivisionRow]]:
    """Check a division CSV (code,name,level,parent_code). Returns (rows to import, skipped).

    `existing` maps codes already in the database to their level, so a file may add children
    to grids imported earlier. Rows whose name starts with a skipped prefix are left out with
    everything below them.
    """
    existing = dict(existing or {})
    prefixes = tuple(p for p in skip_name_prefixes if p)
    problems: list[tuple[str, str]] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise ImportRejected([("header", csv_error(exc))]) from exc
    faults = [f"{name!r} {fault}" for name in fieldnames if (fault := cell_fault(name))]
    if faults:
        raise ImportRejected([("header", "; ".join(faults))])
    missing = {"code", "name", "level", "parent_code"} - set(fieldnames)
    if missing:
        raise ImportRejected([("header", f"missing column(s): {', '.join(sorted(missing))}")])
    rows: list[DivisionRow] = []
    seen: dict[str, int] = {}
    records = csv_records(reader, lambda: reader.reader.line_num, problems)  # not stale
    for line, raw in enumerate(records, start=2):
        where = f"line {line}"
        faults = [
            f"{column or 'an extra cell'} {fault}"
            for column, value in raw.items()
            for cell in (value if isinstance(value, list) else [value])
            if isinstance(cell, str) and (fault := cell_fault(cell))
        ]
        if faults:
            problems.append((where, "; ".join(faults)))
            continue
        code = (raw.get("code") or "").strip()
        name = (raw.get("name") or "").strip()
        level_text = (raw.get("level") or "").strip().lower()
        parent = (raw.get("parent_code") or "").strip() or None
        if not _CODE.match(code):
            problems.append((where, f"code {code!r} is not a 12-digit administrative code"))
            continue
        if code in seen:
            problems.append((where, f"code {code} already appears on line {seen[code]}"))
            continue
        seen[code] = line
        if not name or len(name) > 100:
            problems.append((where, "name is empty or longer than 100 characters"))
        if level_text not in LEVELS:
            problems.append(
                (
                    where,
                    f"level {level_text!r} is not one of "
                    "prefecture, county, park, township, village",
                )
            )
            continue
        if parent is not None and not _CODE.match(parent):
            problems.append((where, f"parent_code {parent!r} is not a 12-digit code"))
            continue
        rows.append(DivisionRow(line, code, name, LEVELS[level_text], parent))
    if problems:
        raise ImportRejected(problems)

    skipped_codes = {r.code for r in rows if prefixes and r.name.startswith(prefixes)}
    by_code = {r.code: r for r in rows}
    keep: list[DivisionRow] = []
    skipped: list[DivisionRow] = []
    for row in rows:
        if _under_skipped(row, by_code, skipped_codes):
            skipped.append(row)
            continue
        keep.append(row)
    for row in keep:
        where = f"line {row.line}"
        if row.level == 1:
            continue  # the root: its parent (the province) is outside the grid
        parent_level = (
            by_code[row.parent_code].level
            if row.parent_code in by_code
            else (existing.get(row.parent_code) if row.parent_code else None)
        )
        if row.parent_code is None:
            problems.append((where, f"{row.name}: parent_code is empty"))
        elif parent_level is None:
            problems.append((where, f"{row.name}: unknown parent code {row.parent_code}"))
        elif parent_level != row.level - 1:
            problems.append(
                (
                    where,
                    f"{row.name}: parent {row.parent_code} is level "
                    f"{parent_level}, expected level {row.level - 1}",
                )
            )
    if problems:
        raise ImportRejected(problems)
    keep.sort(key=lambda r: (r.level, r.line))
    return keep, skipped


def _under_skipped(row: DivisionRow, by_code: Mapping[str, DivisionRow], skipped: set[str]) -> bool:
    code: str | None = row.code
    for _ in range(5):
        if code in skipped:
            return True
        parent = by_code.get(code) if code else None
        code = parent.parent_code if parent else None
    return False


@dataclass(frozen=True)
class BoundaryFeature:
    index: int
    code: str
    name: str | None
    geom: BaseGeometry  # MultiPolygon in WGS-84


def parse_boundaries(
    text: str, crs: str, code_property: str | None = None
) -> list[BoundaryFeature]:
    """Check a GeoJSON FeatureCollection of (Multi)Polygons and return them in WGS-84."""
    if crs not in CRS_CHOICES:
        raise ImportRejected([("options", f"--crs must be one of {', '.join(CRS_CHOICES)}")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected(
            [(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}")]
        ) from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportRejected([("file", "not a GeoJSON FeatureCollection")])
    declared = ((data.get("crs") or {}).get("properties") or {}).get("name")
    if declared and declared not in _LONLAT_CRS:
        raise ImportRejected(
            [
                (
                    "file",
                    f"declares CRS {declared}; expected longitude/latitude "
                    "degrees (WGS-84 or GCJ-02)",
                )
            ]
        )
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise ImportRejected([("file", "has no features")])
    problems: list[tuple[str, str]] = []
    result: list[BoundaryFeature] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        label = props.get("name") or ""
        where = f"feature {index}" + (f" ({label})" if label else "")
        raw_code = str(
            props.get(code_property)
            if code_property
            else props.get("adcode") or props.get("code") or ""
        )
        code = normalise_code(raw_code)
        if code is None:
            prop = code_property or "adcode/code"
            problems.append((where, f"property {prop} {raw_code!r} is not an administrative code"))
            continue
        if code in seen:
            problems.append((where, f"code {code} already used by feature {seen[code]}"))
            continue
        seen[code] = index
        try:
            geom = _checked_geometry(feature.get("geometry"), crs)
        except ValueError as exc:
            problems.append((where, str(exc)))
            continue
        result.append(BoundaryFeature(index, code, label or None, geom))
    if problems:
        raise ImportRejected(problems)
    return result


def _checked_geometry(raw: object, crs: str) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"geometry is {kind}, expected Polygon or MultiPolygon")
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise ValueError(f"geometry cannot be read: {exc}") from exc
    coords = shapely.get_coordinates(geom)
    if coords.size == 0:
        raise ValueError("geometry is empty")
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise ValueError("geometry has non-numeric coordinates")
    lon_min, lat_min = coords.min(axis=0)
    lon_max, lat_max = coords.max(axis=0)
    if lon_min < -180 or lon_max > 180 or lat_min < -90 or lat_max > 90:
        raise ValueError(
            f"coordinates ({lon_min:.0f}..{lon_max:.0f}, {lat_min:.0f}..{lat_max:.0f})"
            " are not longitude/latitude degrees: wrong CRS (projected?)"
        )
    if crs == "gcj02" and not (
        72.004 <= lon_min and lon_max <= 137.8347 and 0.8293 <= lat_min and lat_max <= 55.8271
    ):
        raise ValueError("lies outside China, where GCJ-02 is not defined: wrong CRS?")
    if not geom.is_valid:
        raise ValueError(f"invalid geometry: {explain_validity(geom)}")
    if crs == "gcj02":
        geom = shapely.transform(geom, coords_transformer(gcj02_to_wgs84_arrays))
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
    return as_multipolygon(geom)
