"""What the double-random pages and services read: an office's eligible population per
category, what it drew already, the month's suggested numbers, the quarterly statistics.

- The office's area: a county (level 2) draws over the sources of its ledger; the prefecture
  (level 1) over the sources of every county under it.
- Eligible: status active (relocated, long-stopped and bankrupt units are "not in draw", 004 三).
- Categories: special units 特殊监管对象 are those under special supervision; key polluters
  those on the key list and not under special supervision (the stricter ratio wins); general
  units all others (004 四2: 除重点监管对象、特殊监管对象外). Monitoring facilities (002): the
  sources with an active CEMS point (enforce_point), whatever their other category; counted
  per source, not per outlet."""

import json
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from enforce.draws import ratios
from enforce.draws.drawing import Snapshot
from enforce.draws.models import Conflict, Draw, Inspector, Task, task_inspector
from enforce.exceed.models import MonitoringPoint
from extensions import db
from grid.models import Grid
from sources import catalog
from sources.models import Source


def area_clause(office: Grid) -> sa.ColumnElement[bool]:
    """The sources an office draws from (all statuses)."""
    if office.level == ratios.PREFECTURE:
        counties = sa.select(Grid.id).where(Grid.parent_id == office.id)
        return Source.county_id.in_(counties)
    return Source.county_id == office.id


def category_clause(category: str) -> sa.ColumnElement[bool]:
    if category == "special":
        return Source.special_supervision.is_(True)
    if category == "key":
        return sa.and_(Source.key_polluter.is_(True), Source.special_supervision.is_(False))
    if category == "general":
        return sa.and_(Source.key_polluter.is_(False), Source.special_supervision.is_(False))
    monitored = sa.select(MonitoringPoint.source_id).where(MonitoringPoint.active.is_(True))
    return Source.id.in_(monitored)


def eligible_ids(office: Grid, category: str) -> list[int]:
    query = sa.select(Source.id).where(
        area_clause(office), Source.status == catalog.ACTIVE, category_clause(category)
    )
    return list(db.session.scalars(query.order_by(Source.id)))


def quarter_start(month: date) -> date:
    return month.replace(month=(month.month - 1) // 3 * 3 + 1, day=1)


def drawn_units(office: Grid, category: str, first: date, before: date) -> set[int]:
    """The distinct sources the office drew in a category in months first <= m < before."""
    query = (
        sa.select(Task.source_id)
        .join(Draw, Draw.id == Task.draw_id)
        .where(
            Draw.grid_id == office.id,
            Task.category == category,
            Draw.month >= first,
            Draw.month < before,
        )
    )
    return set(db.session.scalars(query))


def active_inspectors(office: Grid) -> list[Inspector]:
    query = sa.select(Inspector).where(Inspector.grid_id == office.id, Inspector.active.is_(True))
    return list(db.session.scalars(query.order_by(Inspector.id)))


def snapshot(office: Grid, month: date) -> Snapshot:
    """What a draw for `month` draws from: per category the eligible sources, in tiers (not
    drawn yet this year, not drawn yet this quarter, the rest), the office's active inspectors
    and their recusals among those sources."""
    year_start, quarter = month.replace(month=1, day=1), quarter_start(month)
    targets: dict[str, list[list[int]]] = {}
    for category in ratios.CATEGORIES:
        ids = eligible_ids(office, category)
        in_year = drawn_units(office, category, year_start, month)
        in_quarter = drawn_units(office, category, quarter, month)
        targets[category] = [
            [s for s in ids if s not in in_year],
            [s for s in ids if s in in_year and s not in in_quarter],
            [s for s in ids if s in in_quarter],
        ]
    inspectors = [i.id for i in active_inspectors(office)]
    sources = {s for tiers in targets.values() for tier in tiers for s in tier}
    conflicts = {
        (i, s)
        for i, s in db.session.execute(
            sa.select(Conflict.inspector_id, Conflict.source_id).where(
                Conflict.inspector_id.in_(inspectors)
            )
        )
        if s in sources
    }
    return Snapshot.of(targets, inspectors, conflicts)


@dataclass(frozen=True)
class Plan:
    """The month's figures for an office's draw form: its population, the suggested numbers,
    what its draws of the month asked already."""

    office: Grid
    month: date
    population: ratios.Population
    suggestions: dict[str, ratios.Suggestion]
    asked: dict[str, int]  # by the office's draws of the month so far
    draws: list[Draw]

    def shortfalls(self, extra: dict[str, int] | None = None) -> list[ratios.Shortfall]:
        asked = dict(self.asked)
        for category, number in (extra or {}).items():
            asked[category] = asked.get(category, 0) + number
        return ratios.shortfalls(self.suggestions, asked)


def plan(office: Grid, month: date) -> Plan:
    year_start, quarter = month.replace(month=1, day=1), quarter_start(month)
    counts: dict[str, int] = {}
    progress: dict[str, ratios.Progress] = {}
    for category in ratios.CATEGORIES:
        ids = set(eligible_ids(office, category))
        in_year = drawn_units(office, category, year_start, month)
        in_quarter = drawn_units(office, category, quarter, month)
        counts[category] = len(ids)
        progress[category] = ratios.Progress(len(in_quarter), len(in_year), len(ids - in_year))
    population = ratios.Population(**counts, inspectors=len(active_inspectors(office)))
    draws = draws_of(office, month)
    asked: dict[str, int] = {}
    for item in draws:
        for category, number in asked_of(item).items():
            asked[category] = asked.get(category, 0) + number
    suggestions = ratios.suggest_all(office.level, population, month.month, progress)
    return Plan(office, month, population, suggestions, asked, draws)


def asked_of(item: Draw) -> dict[str, int]:
    return {category: int(number) for category, number in json.loads(item.asked).items()}


def draws_of(office: Grid, month: date) -> list[Draw]:
    query = sa.select(Draw).where(Draw.grid_id == office.id, Draw.month == month)
    return list(db.session.scalars(query.order_by(Draw.id)))


def recent_draws(office_ids: list[int] | None, limit: int = 50) -> list[Draw]:
    """The latest draws of some offices (None: all)."""
    query = sa.select(Draw)
    if office_ids is not None:
        query = query.where(Draw.grid_id.in_(office_ids))
    return list(db.session.scalars(query.order_by(Draw.month.desc(), Draw.id.desc()).limit(limit)))


@dataclass(frozen=True)
class TaskRow:
    task: Task
    source: Source
    inspectors: list[Inspector]


def tasks_of(item: Draw) -> list[TaskRow]:
    """A draw's tasks in the order drawn, with their sources and inspectors in order."""
    tasks = list(
        db.session.scalars(sa.select(Task).where(Task.draw_id == item.id).order_by(Task.id))
    )
    sources = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Source).where(Source.id.in_([t.source_id for t in tasks]))
        )
    }
    links = db.session.execute(
        sa.select(task_inspector.c.task_id, Inspector)
        .join(Inspector, Inspector.id == task_inspector.c.inspector_id)
        .where(task_inspector.c.task_id.in_([t.id for t in tasks]))
        .order_by(task_inspector.c.task_id, task_inspector.c.position)
    )
    people: dict[int, list[Inspector]] = {}
    for task_id, inspector in links:
        people.setdefault(task_id, []).append(inspector)
    return [TaskRow(t, sources[t.source_id], people.get(t.id, [])) for t in tasks]


def inspectors_of(office_ids: list[int] | None) -> list[Inspector]:
    query = sa.select(Inspector)
    if office_ids is not None:
        query = query.where(Inspector.grid_id.in_(office_ids))
    return list(
        db.session.scalars(query.order_by(Inspector.grid_id, Inspector.active.desc(), Inspector.id))
    )


def conflicts_of(inspector: Inspector) -> list[tuple[Conflict, Source]]:
    query = (
        sa.select(Conflict, Source)
        .join(Source, Source.id == Conflict.source_id)
        .where(Conflict.inspector_id == inspector.id)
        .order_by(Conflict.recorded_at, Conflict.id)
    )
    return [(c, s) for c, s in db.session.execute(query)]


def sources_of(office: Grid) -> list[Source]:
    """The office's eligible sources, for choosing a recusal."""
    query = sa.select(Source).where(area_clause(office), Source.status == catalog.ACTIVE)
    return list(db.session.scalars(query.order_by(Source.name, Source.id)))


@dataclass(frozen=True)
class QuarterRow:
    """A category's quarter for an office: units drawn and done (distinct), the minimum and
    whether it is met, and the outcomes of the tasks done (1..7)."""

    category: str
    eligible: int
    drawn: int
    done: int
    minimum: int
    counted: int  # the number compared with the minimum (the quarter's, or the year's so far)
    outcomes: tuple[int, ...]

    @property
    def met(self) -> bool:
        return self.counted >= self.minimum

    @property
    def percent(self) -> float | None:
        return round(100 * self.drawn / self.eligible, 1) if self.eligible else None


def quarter_rows(office: Grid, year: int, quarter: int) -> list[QuarterRow]:
    first = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    year_start = date(year, 1, 1)
    population = ratios.Population(
        **{c: len(eligible_ids(office, c)) for c in ratios.CATEGORIES},
        inspectors=len(active_inspectors(office)),
    )
    rows = []
    for category in ratios.CATEGORIES:
        tasks = db.session.execute(
            sa.select(Task.source_id, Task.status, Task.outcome)
            .join(Draw, Draw.id == Task.draw_id)
            .where(
                Draw.grid_id == office.id,
                Task.category == category,
                Draw.month >= first,
                Draw.month < end,
            )
        ).all()
        outcomes = [0] * 7
        for _source, status, outcome in tasks:
            if status == "done" and outcome:
                outcomes[outcome - 1] += 1
        drawn = {s for s, _status, _outcome in tasks}
        done = {s for s, status, _outcome in tasks if status == "done"}
        if ratios.counted_by_quarter(category):
            counted = len(drawn)
        else:
            counted = len(drawn_units(office, category, year_start, end))
        minimum = ratios.quarter_minimum(office.level, category, population, quarter)
        rows.append(
            QuarterRow(
                category,
                population.of(category),
                len(drawn),
                len(done),
                minimum,
                counted,
                tuple(outcomes),
            )
        )
    return rows
