"""Part of bench/enforce.py: a year of double-random draws over the Changji demo ledger.

On the SpatiaLite demo database (its sources, and the demo's inspector library), every office
(the prefecture and each county) draws each month of next year at the suggested numbers (all
categories): the plan (population, progress, suggestions), the population snapshot, the draw
and its tasks written. The year is rolled back after each run; the median of the runs is
reported, with one draw's verification (drawn again from its seed)."""

import statistics
import time
from datetime import date

import sqlalchemy as sa

from bench.common import Context, table
from enforce.draws import demo, queries, services
from enforce.draws.models import Task
from extensions import db
from grid.models import Grid
from grid.queries import root_grid
from sources.models import Source

RUNS = 3


def _offices() -> list[Grid]:
    counties = db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.id))
    root = root_grid()
    return ([root] if root else []) + list(counties)


def _year(year: int) -> dict:
    """Twelve months of draws by every office; what was drawn and how long each part took."""
    offices = _offices()
    planning = drawing = 0.0
    draws = 0
    last = None
    for month in range(1, 13):
        first = date(year, month, 1)
        for office in offices:
            start = time.perf_counter()
            plan = queries.plan(office, first)
            asked = {c: s.number for c, s in plan.suggestions.items() if s.number}
            planning += time.perf_counter() - start
            if not asked or plan.population.inspectors < 2:
                continue
            for part in demo.parts(asked):  # the facilities on their own, as the demo does
                start = time.perf_counter()
                last = services.make_draw(
                    office, first, part, by=None, seed=year * 100 + month, today=date(year, 12, 31)
                )
                drawing += time.perf_counter() - start
                draws += 1
    tasks = db.session.scalar(sa.select(sa.func.count()).select_from(Task))
    start = time.perf_counter()
    verified = services.verify(last).matches if last else False
    verifying = time.perf_counter() - start
    return {
        "planning": planning,
        "drawing": drawing,
        "verifying": verifying,
        "draws": draws,
        "tasks": tasks,
        "verified": verified,
        "offices": len(offices),
    }


def _verdict(run: dict) -> str:
    return "matches" if run["verified"] else "DOES NOT MATCH"


def section(ctx: Context) -> str:
    app = ctx.app(ctx.sqlite_url)
    runs = []
    with app.app_context():
        year = date.today().year + 1
        sources = db.session.scalar(sa.select(sa.func.count()).select_from(Source))
        for _ in range(RUNS):
            start = time.perf_counter()
            result = _year(year)
            result["total"] = time.perf_counter() - start
            runs.append(result)
            db.session.rollback()
        db.session.remove()
    middle = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
    rows = [
        ("whole year", f"{statistics.median(r['total'] for r in runs):.2f} s"),
        ("plans (suggested numbers)", f"{statistics.median(r['planning'] for r in runs):.2f} s"),
        ("draws written", f"{statistics.median(r['drawing'] for r in runs):.2f} s"),
        ("one draw verified", f"{statistics.median(r['verifying'] for r in runs) * 1000:.1f} ms"),
    ]
    return "\n\n".join(
        [
            "### Double-random draws: a year over the Changji ledger",
            f"SpatiaLite demo database: {sources} sources, {middle['offices']} offices (the "
            f"prefecture and its level-2 grids); each office draws every month of {year} at the "
            f"suggested numbers: {middle['draws']} draws, {middle['tasks']} tasks in all "
            f"(the demo's included). Median of {RUNS} runs, each rolled back; the year's last "
            f"draw verified from its seed: {_verdict(middle)}.",
            table(("part", "time"), rows),
        ]
    )
