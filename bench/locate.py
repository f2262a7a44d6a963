"""Point -> grid lookups per second on the demo: in memory (loop and vectorised) and one spatial
query per point on SpatiaLite and PostGIS."""

import numpy as np
import shapely
import sqlalchemy as sa

from bench.common import Context, fmt_int, median, met, table, timed

POINTS = 100_000
DB_POINTS = 2_000
MEMORY_REPEATS = 5
DB_REPEATS = 3
BUILD_REPEATS = 3
LEVEL = 4
SEED = 20240601
TARGET_MEMORY = 100_000  # lookups/s, in-memory locate() in a Python loop


def random_points(shape, n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """n points uniformly distributed inside `shape` (rejection sampling in its bounds)."""
    rng = np.random.default_rng(seed)
    min_x, min_y, max_x, max_y = shape.bounds
    shapely.prepare(shape)
    lons, lats = np.empty(0), np.empty(0)
    while len(lons) < n:
        x = rng.uniform(min_x, max_x, 2 * n)
        y = rng.uniform(min_y, max_y, 2 * n)
        inside = shapely.contains_xy(shape, x, y)
        lons, lats = np.concatenate([lons, x[inside]]), np.concatenate([lats, y[inside]])
    return lons[:n], lats[:n]


def _memory(ctx: Context) -> dict:
    from extensions import db
    from grid import queries
    from grid.models import Grid, GridKind

    app = ctx.app(ctx.sqlite_url)
    with app.app_context():
        root = queries.root_grid()
        lons, lats = random_points(queries.grid_shape(root), POINTS)
        builds = []
        for _ in range(BUILD_REPEATS):
            queries._locator_cache.clear()  # time a real build, not the cached locator
            seconds, loc = timed(lambda: queries.memory_locator((3, 4)))
            builds.append(seconds)
        grids = db.session.scalar(
            sa.select(sa.func.count(Grid.id)).where(Grid.level == LEVEL, Grid.kind != GridKind.KEY)
        )

        pairs = list(zip(lons.tolist(), lats.tolist(), strict=True))
        locate = loc.locate

        def loop():
            return [locate(lon, lat, LEVEL) for lon, lat in pairs]

        loop_times, many_times = [], []
        loop_ids = many_ids = None
        for _ in range(MEMORY_REPEATS):
            seconds, loop_ids = timed(loop)
            loop_times.append(seconds)
            seconds, many_ids = timed(lambda: loc.locate_many(lons, lats, LEVEL))
            many_times.append(seconds)
        loop_array = np.array([-1 if g is None else g for g in loop_ids], dtype=np.int64)
        differ = int(np.count_nonzero(loop_array != many_ids))
        assert differ == 0, f"locate() and locate_many() disagree on {differ} of {POINTS} points"
    return {
        "lons": lons,
        "lats": lats,
        "ids": loop_array,
        "outside": int(np.count_nonzero(loop_array < 0)),
        "build_s": median(builds),
        "loop_rate": POINTS / median(loop_times),
        "many_rate": POINTS / median(many_times),
        "level4_grids": grids,
    }


def _database(ctx: Context, url: str, memory: dict) -> dict:
    from extensions import db
    from grid import queries

    app = ctx.app(url)
    lons, lats = memory["lons"][:DB_POINTS].tolist(), memory["lats"][:DB_POINTS].tolist()
    expected = memory["ids"][:DB_POINTS].tolist()
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            version = "SpatiaLite " + db.session.scalar(sa.text("SELECT spatialite_version()"))
        else:
            pg = db.session.scalar(sa.text("SHOW server_version")).split()[0]
            postgis = db.session.scalar(sa.text("SELECT postgis_lib_version()"))
            version = f"PostgreSQL {pg}, PostGIS {postgis}"

        def run():
            found = []
            for lon, lat in zip(lons, lats, strict=True):
                grid = queries.locate(lon, lat, LEVEL)
                found.append(-1 if grid is None else grid.id)
                db.session.expunge_all()
            return found

        run()  # warm the connection and the page cache
        times, found = [], []
        for _ in range(DB_REPEATS):
            seconds, found = timed(run)
            times.append(seconds)
        db.session.remove()
    agree = sum(1 for a, b in zip(found, expected, strict=True) if a == b)
    return {"rate": DB_POINTS / median(times), "agree": agree, "version": version}


def run(ctx: Context) -> str:
    memory = _memory(ctx)
    spatialite = _database(ctx, ctx.sqlite_url, memory)
    postgis_url = ctx.postgis_url
    postgis = _database(ctx, postgis_url, memory) if postgis_url else None

    rows = [
        (
            "in memory, `GridLocator.locate()` in a Python loop",
            f"{fmt_int(POINTS)} × {MEMORY_REPEATS}",
            fmt_int(memory["loop_rate"]),
            "1.00",
        ),
        (
            "in memory, `GridLocator.locate_many()` (vectorised)",
            f"{fmt_int(POINTS)} × {MEMORY_REPEATS}",
            fmt_int(memory["many_rate"]),
            f"{memory['many_rate'] / memory['loop_rate']:.2f}",
        ),
        (
            f"`grid.queries.locate()` on SQLite ({spatialite['version']})",
            f"{fmt_int(DB_POINTS)} × {DB_REPEATS}",
            fmt_int(spatialite["rate"]),
            f"{spatialite['rate'] / memory['loop_rate']:.4f}",
        ),
    ]
    if postgis:
        rows.append(
            (
                f"`grid.queries.locate()` on {postgis['version']}",
                f"{fmt_int(DB_POINTS)} × {DB_REPEATS}",
                fmt_int(postgis["rate"]),
                f"{postgis['rate'] / memory['loop_rate']:.4f}",
            )
        )
    agreement = (
        f"The database answers agree with the in-memory ones for {spatialite['agree']:,} of "
        f"{DB_POINTS:,} points on SpatiaLite"
    )
    if postgis:
        agreement += f" and {postgis['agree']:,} of {DB_POINTS:,} on PostGIS."
    else:
        agreement += (
            ". **PostGIS was not measured:** GRIDPATROL_TEST_POSTGRES is unset "
            "(`make bench` sets it)."
        )
    ok = memory["loop_rate"] >= TARGET_MEMORY
    return f"""\
## Point → grid lookups (`bench/locate.py`)

Which level-{LEVEL} grid contains a point, on the demo ({memory["level4_grids"]:,} level-4
grids), in process inside `create_app().app_context()`.

- **Points:** {fmt_int(POINTS)} drawn uniformly inside the prefecture's (level-1 grid's)
  boundary, fixed seed.
- **In memory:** `grid.queries.memory_locator((3, 4))`, then `locate()` in a Python loop and
  `locate_many()` on NumPy arrays. Building the locator (query of the level-3 and level-4
  geometries, then the index) takes **{memory["build_s"] * 1000:,.0f} ms** (median of
  {BUILD_REPEATS}), not counted in the rates.
- **Database:** `grid.queries.locate()`, one spatial query per point, for the first
  {fmt_int(DB_POINTS)} of the same points, after one warm-up pass.
- **Repeats:** median of {MEMORY_REPEATS} in memory, of {DB_REPEATS} on the databases.

{table(("Lookup", "Points × repetitions", "Lookups/s (median)", "× loop"), rows)}

`locate()` and `locate_many()` gave the same grid for all {fmt_int(POINTS)} points (checked by
the benchmark; {memory["outside"]:,} of them fall in no level-4 grid). {agreement}

| Target | Measured | |
| --- | --- | --- |
| in memory ≥ 100,000 lookups/s | {fmt_int(memory["loop_rate"])} lookups/s | {met(ok)} |
"""
