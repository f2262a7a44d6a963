"""`flask enforce exceedances --day YYYY-MM-DD`: a day's exceedances computed (again) by hand;
the task queue does it for yesterday each morning (enforce.exceed.tasks)."""

from datetime import date, timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from enforce.exceed import services
from grid.forms import unit_of_work
from grid.time import local_today


@click.command("exceedances")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The local day, YYYY-MM-DD (default: yesterday).",
)
def exceedances_command(day) -> None:
    """Compute a day's online-monitoring exceedances (hours over the emission limits); run it
    again at any time: the centre's decisions, reports and disposals are kept."""
    wanted: date = day.date() if day else local_today() - timedelta(days=1)
    with unit_of_work():
        done = services.compute_day(wanted)
    click.echo(
        f"{wanted}: {done.points} monitoring points with data, {done.valid} exceedances, "
        f"{done.invalid} hours of invalid data, {done.dropped} dropped."
    )


def register(app: Flask) -> None:
    """Add the command to the `flask enforce` group (made here if no workflow made it yet)."""
    group = app.cli.commands.get("enforce")
    if group is None:
        group = AppGroup("enforce", help="Enforcement: exceedances, inspections, cases.")
        app.cli.add_command(group)
    group.add_command(exceedances_command)
