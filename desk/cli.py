"""`flask demo load`: the Changji demo, grid first, then everything that stands on it."""

from collections.abc import Callable
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from alerts import demo as alerts_demo
from assess import demo as assess_demo
from enforce.cases import demo as cases_demo
from enforce.draws import demo as draws_demo
from enforce.exceed import demo as exceed_demo
from extensions import db
from grid import demo as grid_demo
from grid.queries import root_grid
from grid.time import local_today
from problems import demo as problems_demo
from sources import demo as sources_demo

demo_cli = AppGroup("demo", help="The Changji demonstration data.")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds grids.")
@click.option("--data-dir", default=None, help="Folder with the Changji public data.")
@click.option(
    "--today",
    "today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date the demo posts start from (default: 1 January of last year).",
)
def demo_load_command(if_empty, data_dir, today):
    """Load the Changji demo: real divisions and county boundaries, synthetic villages,
    fictional people and pollution sources, and problems at every step of the workflow."""
    if root_grid() is not None:
        if not if_empty:
            raise click.ClickException("The database already holds a grid; use an empty database.")
        click.echo("The database already holds a grid; demo not loaded again.")
        if not alerts_demo.has_stations():  # a demo database made before the stations came
            data_dir = data_dir or current_app.config.get("DEMO_DATA_DIR")
            click.echo(alerts_demo.load(data_dir or grid_demo.default_data_dir(), click.echo))
            db.session.commit()
        _print_logins()
        return
    data_dir = data_dir or current_app.config.get("DEMO_DATA_DIR") or grid_demo.default_data_dir()
    start = today.date() if today else date(local_today().year - 1, 1, 1)
    load_demo(data_dir, start, echo=click.echo)
    db.session.commit()
    _print_logins()


def load_demo(data_dir: str, start: date, echo: Callable[[str], None]) -> None:
    """Every domain's demo data, bottom of the stack first (the caller commits)."""
    echo(grid_demo.load(data_dir, start, echo=echo))
    echo(sources_demo.load(start, echo=echo))
    echo(problems_demo.load(echo=echo))
    echo(alerts_demo.load(data_dir, echo=echo))
    echo(assess_demo.load(start, echo=echo))
    echo(exceed_demo.load(start, echo=echo))
    echo(draws_demo.load(start, echo=echo))
    echo(cases_demo.load(start, echo=echo))


def _print_logins():
    click.echo(f"Demo log-ins (password {grid_demo.DEMO_PASSWORD}):")
    for login, what in grid_demo.demo_logins():
        click.echo(f"  {login:10} {what}")


def register(app):
    app.cli.add_command(demo_cli)
