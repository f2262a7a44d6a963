"""The inspector library and the draws, on the real database: what a county draws from, the
draw reproduced from its seed, the refusals (nothing written), a simulated year of draws at
the suggested numbers meeting every minimum."""

from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.draws import queries, ratios, services
from enforce.draws.drawing import Snapshot
from enforce.draws.models import Draw, Task, task_inspector
from enforce.exceed.models import MonitoringPoint
from extensions import db
from grid.errors import ServiceError
from sources import services as ledger
from tests import factories


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


TODAY = date(2026, 12, 1)
MONTH = date(2026, 12, 1)


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def county(db_session):
    """A county with 8 key polluters, 2 special units (one also a key polluter), 12 general
    units, 3 excluded units (relocated, long stopped, bankrupt), and 4 inspectors."""
    world = factories.make_world()
    office = world.county_office
    key = [factories.make_source(world, key_polluter=True) for _ in range(8)]
    special = [
        factories.make_source(world, special_supervision=True, special_reason="刑事犯罪"),
        factories.make_source(
            world, key_polluter=True, special_supervision=True, special_reason="罚款20万元"
        ),
    ]
    general = [factories.make_source(world) for _ in range(12)]
    gone = [factories.make_source(world, key_polluter=True) for _ in range(3)]
    for source, status in zip(gone, ("relocated", "long_stopped", "bankrupt"), strict=True):
        ledger.change_status(source, status, date(2026, 1, 1), by=office)
    inspectors = [
        services.add_inspector(
            world.county, f"执法员{n}", f"TEST-{world.county.id}-{n}", "分局", by=office
        )
        for n in range(4)
    ]
    db.session.flush()
    return world, key, special, general, gone, inspectors


def test_the_population_excludes_gone_units_and_splits_categories(county):
    world, key, special, general, gone, _inspectors = county
    assert queries.eligible_ids(world.county, "key") == sorted(s.id for s in key)
    assert queries.eligible_ids(world.county, "special") == sorted(s.id for s in special)
    assert queries.eligible_ids(world.county, "general") == sorted(s.id for s in general)
    plan = queries.plan(world.county, MONTH)
    assert plan.population == ratios.Population(
        key=8, special=2, general=12, facility=0, inspectors=4
    )
    # December, the year's last month, nothing drawn: all 8 key polluters (once a year), the
    # quarter's 50% of 2 special (1), general: 10 x 4 inspectors capped at 12 -> 12
    assert {c: s.number for c, s in plan.suggestions.items()} == {
        "key": 8,
        "special": 1,
        "general": 12,
        "facility": 0,
    }


def test_a_draw_writes_its_tasks_and_reproduces_from_its_seed(county):
    world, key, special, general, gone, inspectors = county
    asked = {"key": 3, "special": 1, "general": 4}
    item = services.make_draw(
        world.county, MONTH, asked, by=world.county_office, seed=20261201, today=TODAY
    )
    rows = queries.tasks_of(item)
    assert len(rows) == 8
    assert {r.task.category for r in rows} == {"key", "special", "general"}
    eligible = {s.id for s in key + special + general}
    for row in rows:
        assert row.source.id in eligible
        assert len(row.inspectors) == 2
        assert {i.grid_id for i in row.inspectors} == {world.county.id}
    check = services.verify(item)
    assert check.snapshot_intact and check.matches and not check.differences
    # the same seed on the same population draws the same thing elsewhere
    again = Snapshot.from_json(item.snapshot)
    assert again.digest() == item.snapshot_sha256
    # tampering with a recorded inspector is found
    first = rows[0].task
    outsider = next(i for i in inspectors if i.id not in {p.id for p in rows[0].inspectors})
    db.session.execute(
        sa.update(task_inspector)
        .where(task_inspector.c.task_id == first.id, task_inspector.c.position == 1)
        .values(inspector_id=outsider.id)
    )
    check = services.verify(item)
    assert not check.matches and check.snapshot_intact
    # and so is tampering with the recorded population
    item.snapshot = item.snapshot.replace(str(key[0].id), str(gone[0].id), 1)
    assert not services.verify(item).snapshot_intact


def test_conflicted_inspectors_never_drawn(county):
    world, key, special, general, gone, inspectors = county
    for source in key:
        services.add_conflict(inspectors[0], source, "亲属在该企业任职", by=world.county_office)
    services.add_conflict(inspectors[1], key[0], "曾在该企业工作", by=world.county_office)
    db.session.flush()
    for n, month in enumerate((date(2026, 10, 1), date(2026, 11, 1), MONTH)):
        item = services.make_draw(
            world.county, month, {"key": 8}, by=world.county_office, seed=n, today=TODAY
        )
        for row in queries.tasks_of(item):
            ids = {i.id for i in row.inspectors}
            assert inspectors[0].id not in ids
            if row.source.id == key[0].id:
                assert ids == {inspectors[2].id, inspectors[3].id}


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"key": 9}, "Asked 9 key polluters, only 8 are eligible."),
        ({"special": 3}, "only 2 are eligible"),
        ({}, "Ask for at least one target."),
        ({"key": -1}, "cannot be negative"),
    ],
)
def test_refusals_write_nothing(county, asked, message):
    world = county[0]
    draws, tasks = _count(Draw), _count(Task)
    with pytest.raises(ServiceError, match=message):
        services.make_draw(world.county, MONTH, asked, by=world.county_office, today=TODAY)
    assert (_count(Draw), _count(Task)) == (draws, tasks)


def test_too_few_inspectors_refused(county):
    world, key, special, general, gone, inspectors = county
    for inspector in inspectors[1:]:
        services.set_active(inspector, False)
    with pytest.raises(ServiceError, match="1 active inspectors; each task needs 2"):
        services.make_draw(world.county, MONTH, {"key": 1}, by=world.county_office, today=TODAY)
    services.set_active(inspectors[1], True)
    services.set_active(inspectors[2], True)
    for inspector in inspectors[:2]:
        services.add_conflict(inspector, special[0], "回避", by=world.county_office)
    with pytest.raises(ServiceError, match="Only 1 inspectors may inspect"):
        services.make_draw(world.county, MONTH, {"special": 2}, by=world.county_office, today=TODAY)
    assert not queries.draws_of(world.county, MONTH)


def test_months_beyond_next_and_second_draws_of_a_category_refused(county):
    world = county[0]
    with pytest.raises(ServiceError, match="2027-02 cannot be made yet"):
        services.make_draw(
            world.county, date(2027, 2, 1), {"key": 1}, by=world.county_office, today=TODAY
        )
    services.make_draw(
        world.county, date(2027, 1, 1), {"key": 1}, by=world.county_office, today=TODAY
    )
    first = services.make_draw(world.county, MONTH, {"key": 2}, by=world.county_office, today=TODAY)
    with pytest.raises(ServiceError, match=f"drawn already for 2026-12 \\(draw {first.id}\\)"):
        services.make_draw(
            world.county, MONTH, {"key": 1, "general": 1}, by=world.county_office, today=TODAY
        )
    services.make_draw(world.county, MONTH, {"general": 3}, by=world.county_office, today=TODAY)
    assert queries.plan(world.county, MONTH).asked == {"key": 2, "general": 3}
    with pytest.raises(ServiceError, match="seed"):
        services.make_draw(
            world.county, MONTH, {"special": 1}, by=world.county_office, seed=-5, today=TODAY
        )


def test_library_refusals(county):
    world, *_rest, inspectors = county
    with pytest.raises(ServiceError, match="already in the library"):
        services.add_inspector(
            world.county, "重复", inspectors[0].certificate_no, "分局", by=world.county_office
        )
    user = world.supervisor
    services.update_inspector(inspectors[0], "执法员0", inspectors[0].certificate_no, "分局", user)
    with pytest.raises(ServiceError, match="already signs in"):
        services.update_inspector(
            inspectors[1], "执法员1", inspectors[1].certificate_no, "分局", user
        )
    with pytest.raises(ServiceError, match="Only the prefecture and the counties"):
        services.add_inspector(world.township, "乡镇", "TEST-T-1", "镇", by=world.county_office)
    source = county[1][0]
    services.add_conflict(inspectors[2], source, "亲属", by=world.county_office)
    with pytest.raises(ServiceError, match="already recused"):
        services.add_conflict(inspectors[2], source, "亲属", by=world.county_office)


def test_a_year_of_suggested_draws_meets_every_minimum(county):
    """Twelve monthly draws at the suggested numbers, through the services: every quarter's
    minimum met, every key polluter drawn in the year, the general units' 1:10."""
    world, key, special, general, gone, inspectors = county
    for month in range(1, 13):
        first = date(2026, month, 1)
        plan = queries.plan(world.county, first)
        asked = {c: s.number for c, s in plan.suggestions.items() if s.number}
        services.make_draw(
            world.county, first, asked, by=world.county_office, seed=month, today=TODAY
        )
        assert not queries.plan(world.county, first).shortfalls()
    for quarter in (1, 2, 3, 4):
        rows = queries.quarter_rows(world.county, 2026, quarter)
        assert all(row.met for row in rows), rows
    year = queries.drawn_units(world.county, "key", date(2026, 1, 1), date(2027, 1, 1))
    assert year == {s.id for s in key}
    assert (
        len(queries.drawn_units(world.county, "general", date(2026, 1, 1), date(2027, 1, 1))) == 12
    )
    drawn = db.session.scalars(
        sa.select(Task.source_id)
        .join(Draw, Draw.id == Task.draw_id)
        .where(Draw.grid_id == world.county.id)
    ).all()
    assert not set(drawn) & {s.id for s in gone}


def test_prefecture_draws_over_its_counties_with_its_own_inspectors(county):
    """The prefecture draws over every county's ledger (this county's key polluters among
    them), with the detachment's inspectors only (the demo's and these)."""
    world, key, *_rest = county
    prefecture = world.root
    office = factories.person("prefecture-office")
    for n in range(3):
        services.add_inspector(
            prefecture, f"支队{n}", f"TEST-P-{prefecture.id}-{n}", "支队", by=office
        )
    ids = queries.eligible_ids(prefecture, "key")
    assert {s.id for s in key} <= set(ids)
    month = date(2025, 6, 1)  # before the demo's draws
    item = services.make_draw(prefecture, month, {"key": 5}, by=office, today=TODAY)
    rows = queries.tasks_of(item)
    assert len(rows) == 5 and {r.source.id for r in rows} <= set(ids)
    for row in rows:
        assert {i.grid_id for i in row.inspectors} == {prefecture.id}
        assert all(i.active for i in row.inspectors)
    assert services.verify(item).matches


def test_facilities_are_the_monitored_sources_and_overlap_is_refused_clearly(county):
    world, key, special, general, gone, inspectors = county
    for n, source in enumerate([key[0], general[0], gone[0]]):
        db.session.add(
            MonitoringPoint(
                source_id=source.id,
                county_id=world.county.id,
                name=f"{n + 1}号排放口",
                mn=f"DRAWS{world.county.id:06d}{n:04d}",
                st="31",
            )
        )
    db.session.flush()
    # the gone unit's point does not count; the key polluter's does
    assert queries.eligible_ids(world.county, "facility") == sorted([key[0].id, general[0].id])
    # all 8 key polluters and a facility: only one facility is sure to remain
    with pytest.raises(ServiceError, match="draw them on their own"):
        services.make_draw(
            world.county, MONTH, {"key": 8, "facility": 2}, by=world.county_office, today=TODAY
        )
    item = services.make_draw(
        world.county, MONTH, {"key": 8, "facility": 1}, by=world.county_office, today=TODAY
    )
    rows = queries.tasks_of(item)
    assert [r.source.id for r in rows if r.task.category == "facility"] == [general[0].id]
