"""Files the import commands cannot read end cleanly (issue 9): a field over the csv module's size
limit, NUL bytes, bytes that are not UTF-8. Each ends with a message naming the file, the line
and what is wrong (never a traceback), and changes nothing."""

import csv

import pytest
import sqlalchemy as sa

from extensions import db
from grid.imports import ImportRejected, decode_text, parse_divisions
from grid.models import Grid
from sources.imports import parse_special_list
from sources.models import Source

DIVISIONS = "code,name,level,parent_code\n"
GOOD_DIVISION = "652301101990,新村甲,village,652301101000\n"
SPECIAL = "序号,企业名称,所在县市,纳入原因,备注\n"
GOOD_SPECIAL = "1,新虚构建材有限公司,昌吉市,刑事犯罪,\n"
HUGE = "x" * (csv.field_size_limit() + 1)

# (what is wrong on line 3, the bytes of that line, what the message says)
FAULTS = {
    "field over the limit": (
        lambda cells: ",".join([cells[0], HUGE, *cells[2:]]).encode(),
        f"longer than {csv.field_size_limit():,} characters",
    ),
    "quote left open": (
        lambda cells: ",".join([cells[0], '"' + cells[1], *cells[2:]]).encode() + HUGE.encode(),
        "a quote left open?",
    ),
    "NUL byte": (
        lambda cells: ",".join([cells[0], cells[1] + "\x00", *cells[2:]]).encode(),
        "contains a NUL byte",
    ),
    "control character": (
        lambda cells: ",".join([cells[0], cells[1] + "\x1b[31m", *cells[2:]]).encode(),
        "contains control character U+001B",
    ),
    "not UTF-8": (
        lambda cells: ",".join(cells).encode("gb18030"),
        "not UTF-8 text: byte 0x",
    ),
}

COMMANDS = {
    "grid import-divisions": (
        ["grid", "import-divisions"],
        DIVISIONS + GOOD_DIVISION,
        ["652301101991", "新村乙", "village", "652301101000"],
    ),
    "sources import": (
        ["sources", "import"],
        SPECIAL + GOOD_SPECIAL,
        ["2", "另一虚构有限公司", "昌吉市", "刑事犯罪", ""],
    ),
}


def _counts():
    return (
        db.session.scalar(sa.select(sa.func.count(Grid.id))),
        db.session.scalar(sa.select(sa.func.count(Source.id))),
        db.session.scalar(
            sa.select(sa.func.count(Source.id)).where(Source.special_supervision.is_(True))
        ),
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fault", FAULTS)
def test_an_unreadable_file_ends_cleanly_and_changes_nothing(runner, tmp_path, command, fault):
    args, good, cells = COMMANDS[command]
    bad_line, says = FAULTS[fault]
    path = tmp_path / "upload.csv"
    # The good line first: it must not be written either.
    path.write_bytes(good.encode() + bad_line(cells) + b"\n")
    before = _counts()
    result = runner.invoke(args=[*args, str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert f"nothing was imported (1 problem(s)) from {path}" in result.output
    assert "line 3: " in result.output and says in result.output, result.output
    assert _counts() == before
    assert db.session.scalar(sa.select(Grid).where(Grid.code == "652301101990")) is None
    assert db.session.scalar(sa.select(Source).where(Source.name == "新虚构建材有限公司")) is None


def test_geojson_that_is_not_utf8_is_refused_with_its_line(runner, tmp_path):
    path = tmp_path / "boundaries.geojson"
    path.write_bytes(b'{"type": "FeatureCollection",\n "features": [{"name": "\xff"}]}')
    result = runner.invoke(
        args=["grid", "import-boundaries", "--level", "2", "--crs", "wgs84", str(path)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"from {path}" in result.output
    assert "line 2: not UTF-8 text: byte 0xFF at byte 25 of the line" in result.output


# --- the pure readers ---------------------------------------------------------------------------


def test_decode_text_drops_the_byte_order_mark_and_places_a_bad_byte():
    assert decode_text("\ufeff名称\n".encode()) == "名称\n"
    with pytest.raises(ImportRejected) as exc:
        decode_text("\ufeffa,b\n名称,\xff".encode("utf-8")[:-2] + b"\xff")
    assert exc.value.problems == [
        ("line 2", "not UTF-8 text: byte 0xFF at byte 8 of the line (save the file as UTF-8)")
    ]


def test_every_bad_row_is_named_before_an_unreadable_one_ends_the_file():
    text = (
        DIVISIONS
        + "652301101991,新\x00村,village,652301101000\n"
        + "652301101992,好村,village,652301101000\n"
        + f"652301101993,{HUGE},village,652301101000\n"
        + "652301101994,后村,village,652301101000\n"
    )
    with pytest.raises(ImportRejected) as exc:
        parse_divisions(text, {"652301101000": 3})
    assert [where for where, _ in exc.value.problems] == ["line 2", "line 4"]
    assert "name contains a NUL byte" in exc.value.problems[0][1]


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("code,na\x00me,level,parent_code\n", "header", "contains a NUL byte"),
        ("序号,企业名称,所在\x00县市,纳入原因,备注\n", "header", "contains a NUL byte"),
    ],
)
def test_a_header_with_a_nul_byte_is_refused(text, where, says):
    parse = parse_divisions if text.startswith("code") else parse_special_list
    with pytest.raises(ImportRejected) as exc:
        parse(text, {})
    assert exc.value.problems[0][0] == where and says in exc.value.problems[0][1]
