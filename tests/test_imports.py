"""Importing divisions and boundaries: all or nothing, and every fault named with its place."""

import json

import pytest
import sqlalchemy as sa

from extensions import db
from grid import queries
from grid.geo import wgs84_to_gcj02
from grid.imports import ImportRejected, parse_boundaries, parse_divisions
from grid.models import Grid

HEADER = "code,name,level,parent_code\n"


def grid_count():
    return db.session.scalar(sa.select(sa.func.count(Grid.id)))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- divisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("65230199900,短码村,village,652301101000\n", "line 2", "12-digit"),
        ("652301101999,某村,hamlet,652301101000\n", "line 2", "level 'hamlet'"),
        ("652301101999,某村,village,652399999000\n", "line 2", "unknown parent code 652399999000"),
        ("652301101999,某村,village,652301000000\n", "line 2", "expected level 3"),
        ("652301101999,,village,652301101000\n", "line 2", "name is empty"),
        (
            "652301101998,甲村,village,652301101000\n652301101998,乙村,village,652301101000\n",
            "line 3",
            "already appears on line 2",
        ),
    ],
)
def test_bad_division_rows_are_named(body, where, what):
    with pytest.raises(ImportRejected) as exc:
        parse_divisions(HEADER + body, {"652301101000": 3, "652301000000": 2})
    assert any(w == where and what in m for w, m in exc.value.problems), exc.value.problems


def test_missing_columns():
    with pytest.raises(ImportRejected) as exc:
        parse_divisions("code,name\n1,2\n")
    assert exc.value.problems == [("header", "missing column(s): level, parent_code")]


def test_skipped_units_take_their_children_along():
    text = HEADER + (
        "652300000000,州,prefecture,650000000000\n"
        "652301000000,市,county,652300000000\n"
        "652301500000,兵团某团,township,652301000000\n"
        "652301500001,某连,village,652301500000\n"
        "652301101000,某镇,township,652301000000\n"
    )
    rows, skipped = parse_divisions(text, {}, ["兵团"])
    assert [r.code for r in skipped] == ["652301500000", "652301500001"]
    assert [r.level for r in rows] == [1, 2, 3]


def test_cli_rejects_a_bad_file_and_changes_nothing(runner, tmp_path):
    before = grid_count()
    good = "652301101990,新村甲,village,652301101000\n"
    bad = "652301101991,新村乙,village,652399999000\n"
    result = runner.invoke(
        args=["grid", "import-divisions", write(tmp_path, "d.csv", HEADER + good + bad)]
    )
    assert result.exit_code == 1
    assert "line 3" in result.output and "unknown parent code" in result.output
    assert "nothing was imported" in result.output
    assert grid_count() == before
    assert queries.grid_by_code("652301101990") is None


def test_cli_imports_and_renames(runner, tmp_path):
    before = grid_count()
    body = HEADER + (
        "652301101990,新村甲,village,652301101000\n"
        "652301101000,三工镇(新名),township,652301000000\n"
    )
    result = runner.invoke(args=["grid", "import-divisions", write(tmp_path, "d.csv", body)])
    assert result.exit_code == 0, result.output
    assert "1 added, 1 renamed" in result.output
    assert grid_count() == before + 1
    village = queries.grid_by_code("652301101990")
    assert village.level == 4 and village.path.startswith(queries.grid_by_code("652301101000").path)
    # the same file again changes nothing
    again = runner.invoke(args=["grid", "import-divisions", write(tmp_path, "d.csv", body)])
    assert "0 added, 0 renamed, 2 unchanged" in again.output


# --- boundaries -------------------------------------------------------------------------------


def square(x, y, d=0.01):
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def fc(*features, crs=None):
    data = {"type": "FeatureCollection", "features": list(features)}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(data, ensure_ascii=False)


def feature(code, coords, kind="Polygon", name=None):
    props = {"adcode": code, **({"name": name} if name else {})}
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": kind, "coordinates": coords},
    }


BOWTIE = [[[87.0, 44.0], [87.1, 44.1], [87.1, 44.0], [87.0, 44.1], [87.0, 44.0]]]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (fc(feature("652301", BOWTIE, name="坏")), "feature 0 (坏)", "invalid geometry"),
        (fc(feature("652301", square(500000, 4800000))), "feature 0", "wrong CRS"),
        (
            fc(feature("652301", square(87, 44)), crs="urn:ogc:def:crs:EPSG::3857"),
            "file",
            "declares CRS",
        ),
        (fc(feature("65230", square(87, 44))), "feature 0", "not an administrative code"),
        (fc(feature("652301", [[87, 44], [88, 45]], kind="LineString")), "feature 0", "LineString"),
        (fc(feature("652301", square(2, 48))), "feature 0", "outside China"),
        ('{"type": "FeatureCollection", "features": [', "line 1 column 44", "not valid JSON"),
        (fc(), "file", "no features"),
    ],
)
def test_bad_boundaries_are_named(text, where, what):
    with pytest.raises(ImportRejected) as exc:
        parse_boundaries(text, "gcj02")
    assert any(w == where and what in m for w, m in exc.value.problems), exc.value.problems


def test_gcj02_is_converted_on_import():
    lon, lat = 87.30, 44.01
    glon, glat = wgs84_to_gcj02(lon, lat)
    [f] = parse_boundaries(fc(feature("652301", square(glon, glat))), "gcj02")
    x, y = f.geom.geoms[0].exterior.coords[0]
    assert (x, y) == pytest.approx((lon, lat), abs=1e-9)
    [w] = parse_boundaries(fc(feature("652301", square(lon, lat))), "wgs84")
    assert w.geom.geoms[0].exterior.coords[0] == pytest.approx((lon, lat), abs=1e-12)


def test_cli_boundaries_all_or_nothing(runner, tmp_path):
    town = queries.grid_by_code("652301101000")
    before = queries.grid_shape(town)
    text = fc(
        feature("652301101000", square(87.2, 44.3)),
        feature("652301999000", square(87.3, 44.3), name="不存在"),
    )
    result = runner.invoke(
        args=[
            "grid",
            "import-boundaries",
            write(tmp_path, "b.json", text),
            "--level",
            "3",
            "--crs",
            "wgs84",
        ]
    )
    assert result.exit_code == 1
    assert "feature 1 (不存在): no grid has code 652301999000" in result.output
    db.session.expire_all()
    assert queries.grid_shape(queries.grid_by_code("652301101000")).equals(before)


def test_cli_boundaries_wrong_level_is_refused(runner, tmp_path):
    text = fc(feature("652301101000", square(87.2, 44.3)))
    result = runner.invoke(
        args=[
            "grid",
            "import-boundaries",
            write(tmp_path, "b.json", text),
            "--level",
            "2",
            "--crs",
            "wgs84",
        ]
    )
    assert result.exit_code == 1 and "is level 3, not 2" in result.output


def test_cli_boundaries_import(runner, tmp_path):
    text = fc(feature("652301101000", square(87.2, 44.3)))
    result = runner.invoke(
        args=[
            "grid",
            "import-boundaries",
            write(tmp_path, "b.json", text),
            "--level",
            "3",
            "--crs",
            "wgs84",
            "--source",
            "official",
        ]
    )
    assert result.exit_code == 0, result.output
    town = queries.grid_by_code("652301101000")
    assert town.geom_source == "official"
    assert queries.grid_shape(town).bounds == pytest.approx((87.2, 44.3, 87.21, 44.31))


def test_cli_demo_refuses_a_loaded_database(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "already holds a grid" in result.output
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "not loaded again" in result.output
