"""`flask grid ...`, `flask users ...` and `flask audit verify`."""

import sys

import click
from flask.cli import AppGroup

from extensions import db
from grid import audit, queries, services
from grid.errors import ServiceError
from grid.imports import (
    CRS_CHOICES,
    ImportRejected,
    decode_text,
    parse_boundaries,
    parse_divisions,
)
from grid.labels import finding_text
from grid.models import GeomSource, Grid, Role
from grid.registry import CHAINS
from grid.time import local_today

grid_cli = AppGroup("grid", help="The grid tree: divisions, boundaries, lookups, staffing.")
users_cli = AppGroup("users", help="People and their posts.")


def reject(path: str, problems: list[tuple[str, str]]) -> None:
    """Say why the file at `path` was refused, each fault with its place; exit 1 (nothing was
    written: the session is rolled back)."""
    db.session.rollback()
    click.echo(
        f"Rejected, nothing was imported ({len(problems)} problem(s)) from {path}:", err=True
    )
    for where, what in problems[:50]:
        click.echo(f"  {where}: {what}", err=True)
    if len(problems) > 50:
        click.echo(f"  ... and {len(problems) - 50} more", err=True)
    sys.exit(1)


def read_text(path: str) -> str:
    """The UTF-8 text of a file to import (ImportRejected names the line of a byte that is not
    UTF-8)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror or exc}") from exc
    return decode_text(data)


@grid_cli.command("import-divisions")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--skip-prefix",
    multiple=True,
    help="Leave out units whose name starts with this (and all below them), "
    "e.g. 兵团 for units the prefecture does not administer.",
)
def import_divisions_command(csv_path, skip_prefix):
    """Import administrative divisions from CSV (code,name,level,parent_code)."""
    existing = {
        g.code: g.level for g in db.session.scalars(db.select(Grid).where(Grid.code.is_not(None)))
    }
    try:
        rows, skipped = parse_divisions(read_text(csv_path), existing, skip_prefix)
        result = services.import_divisions(rows, skipped=len(skipped))
    except ImportRejected as exc:
        reject(csv_path, exc.problems)
    db.session.commit()
    click.echo(
        f"Divisions: {result.added} added, {result.renamed} renamed, "
        f"{result.unchanged} unchanged, {result.skipped} left out."
    )


@grid_cli.command("import-boundaries")
@click.argument("geojson_path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--level", type=click.IntRange(1, 4), required=True, help="Grid level the features belong to."
)
@click.option(
    "--crs",
    type=click.Choice(CRS_CHOICES),
    required=True,
    help="Datum of the file: gcj02 (Amap/DataV) is converted to WGS-84.",
)
@click.option(
    "--source",
    type=click.Choice([s.value for s in GeomSource]),
    default="imported",
    show_default=True,
    help="Where the boundaries come from.",
)
@click.option(
    "--code-property",
    default=None,
    help="Feature property holding the administrative code (default adcode or code).",
)
def import_boundaries_command(geojson_path, level, crs, source, code_property):
    """Attach boundaries from a GeoJSON FeatureCollection to existing grids (all or nothing)."""
    try:
        features = parse_boundaries(read_text(geojson_path), crs, code_property)
        count = services.import_boundaries(
            features, level, source, note=geojson_path.rsplit("/", 1)[-1][:200]
        )
    except ImportRejected as exc:
        reject(geojson_path, exc.problems)
    db.session.commit()
    click.echo(
        f"Boundaries: {count} grid(s) at level {level} updated "
        f"({'converted from GCJ-02' if crs == 'gcj02' else 'WGS-84'})."
    )


@grid_cli.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
def locate_command(lon, lat):
    """Print the grids containing a WGS-84 point."""
    for level in (2, 3, 4):
        g = queries.locate(lon, lat, level)
        click.echo(f"level {level}: " + (f"{g.name} ({g.code or g.id})" if g else "-"))


@grid_cli.command("staffing")
@click.argument("code", required=False)
def staffing_command(code):
    """List staffing warnings (RULES §1) under a grid (default: the whole prefecture)."""
    root = queries.grid_by_code(code) if code else queries.root_grid()
    if root is None:
        raise click.ClickException(f"no grid with code {code}")
    report = queries.staffing_report(root, local_today())
    for item in report:
        for f in item.findings:
            click.echo(f"{f.severity:8} L{item.level} {item.name}: {finding_text(f)}")
    click.echo(f"{sum(len(r.findings) for r in report)} finding(s) in {len(report)} grid(s).")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="The person's name as published.")
@click.option("--mobile", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--admin-of",
    "admin_of",
    default=None,
    help="Code (or id) of a level-1 or level-2 grid to make them administrator of.",
)
def create_user_command(username, name, mobile, password, admin_of):
    """Create a user, optionally as administrator of a grid."""
    try:
        user = services.create_user(username, name, password, mobile=mobile)
        if admin_of:
            grid = _grid(admin_of)
            services.appoint(user, grid, Role.ADMIN, local_today())
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.username}" + (f", administrator of {admin_of}" if admin_of else ""))


@users_cli.command("appoint")
@click.argument("login")
@click.argument("grid_ref")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.option("--full-time/--part-time", default=None, help="For supervisors.")
@click.option("--from", "started_on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--title", default=None)
@click.option("--covers", multiple=True, help="Child grid code (sub-grid heads), repeatable.")
def appoint_command(login, grid_ref, role, full_time, started_on, title, covers):
    """Give LOGIN a post in the grid GRID_REF (code or id)."""
    user = queries.find_login(login)
    if user is None:
        raise click.ClickException(f"no user {login}")
    try:
        services.appoint(
            user,
            _grid(grid_ref),
            role,
            started_on.date() if started_on else local_today(),
            full_time=full_time,
            title=title,
            covers=[_grid(c) for c in covers],
        )
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("Done.")


def _grid(ref: str) -> Grid:
    grid = (
        queries.grid_by_code(ref)
        if len(ref) == 12
        else (db.session.get(Grid, int(ref)) if ref.isdigit() else None)
    )
    if grid is None:
        raise click.ClickException(f"no grid {ref}")
    return grid


audit_cli = AppGroup("audit", help="The tamper-evident event logs (problems, and every chain).")


@audit_cli.command("verify")
@click.option(
    "--chain",
    "name",
    default=None,
    help="Check only this chain (default: every chain); an unknown name lists them.",
)
@click.option(
    "--id",
    "owner_ids",
    type=int,
    multiple=True,
    help="With --chain: only this record (repeatable).",
)
@click.option(
    "--problem",
    "problem_ids",
    type=int,
    multiple=True,
    help="Only this problem (repeatable): the same as --chain problem --id N.",
)
def audit_verify_command(name, owner_ids, problem_ids):
    """Walk the event chains; report the first broken link of each and exit 1 if any."""
    names = list(CHAINS.entries())
    if problem_ids:
        if name not in (None, "problem"):
            raise click.UsageError("--problem checks the problem chain; leave out --chain")
        name, owner_ids = "problem", owner_ids + problem_ids
    if name is not None and name not in names:
        raise click.BadParameter(
            f"no chain {name!r}; there are: {', '.join(names)}", param_hint="--chain"
        )
    if owner_ids and name is None:
        raise click.UsageError("--id names records of one chain: give --chain too")
    checked, broken = 0, []
    for each in [name] if name else names:
        found, count = audit.verify(each, list(owner_ids) or None)
        checked += count
        if found is not None:
            broken.append(found)
    if not broken:
        click.echo(f"Event log intact: {checked} event(s) checked.")
        return
    for found in broken:
        where = f"event #{found.seq}" if found.seq is not None else "the chain's head"
        click.echo(f"BROKEN: {found.chain} {found.owner_id}, {where}: {found.reason}.", err=True)
    sys.exit(1)


def register(app):
    for group in (grid_cli, users_cli, audit_cli):
        app.cli.add_command(group)
