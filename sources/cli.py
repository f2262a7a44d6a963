"""`flask sources ...`: the pollution-source ledger from the command line."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from extensions import db
from grid.cli import read_text, reject
from grid.errors import ServiceError
from grid.imports import ImportRejected
from grid.models import Grid
from sources import catalog, services
from sources.imports import SpecialRow, parse_special_list
from sources.models import Source

sources_cli = AppGroup("sources", help="The pollution-source ledger (一企一档).")


def _mark_special(source: Source, row: SpecialRow) -> None:
    """Put a source already in the ledger under special supervision (its place stays)."""
    source.special_supervision = True
    source.special_reason = row.reason[:200]
    if row.note:
        source.notes = f"{source.notes}\n{row.note}" if source.notes else row.note


@sources_cli.command("import")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(list(catalog.SOURCE_KINDS)),
    default="industrial",
    show_default=True,
    help="Kind given to sources not yet in the ledger.",
)
def import_command(csv_path, kind):
    """Import the special-supervision list (004 annex 2: 序号,企业名称,所在县市,纳入原因,备注).

    A source of the same name in the same county is put under special supervision; any other
    is added to the county's ledger without a location. All rows or none.
    """
    counties = dict(db.session.execute(sa.select(Grid.name, Grid.id).where(Grid.level == 2)).all())
    try:
        rows = parse_special_list(read_text(csv_path), counties)
    except ImportRejected as exc:
        reject(csv_path, exc.problems)
    created = updated = 0
    problems = []
    for row in rows:
        existing = db.session.scalars(
            sa.select(Source)
            .where(Source.county_id == row.county_id, Source.name == row.name)
            .order_by(Source.id)
        ).all()
        if existing:
            for source in existing:
                _mark_special(source, row)
            updated += len(existing)
            continue
        fields = services.SourceFields(
            name=row.name,
            kind=kind,
            special_supervision=True,
            special_reason=row.reason[:200],
            notes=row.note,
        )
        try:
            services.create_source(db.session.get(Grid, row.county_id), fields)
        except ServiceError as exc:
            problems.append((f"line {row.line}", str(exc)))
            continue
        created += 1
    if problems:
        reject(csv_path, problems)
    db.session.commit()
    click.echo(f"Special supervision list: {created} source(s) created, {updated} updated.")


def register(app):
    app.cli.add_command(sources_cli)
