"""`flask problems ...`: the workflow's scheduled work."""

import click
from flask.cli import AppGroup

from extensions import db
from problems import services

problems_cli = AppGroup("problems", help="Problems and their escalation.")


@problems_cli.command("check-deadlines")
def check_deadlines_command():
    """Record each passed deadline once and tell who must act (run it from cron, e.g. every
    10 minutes)."""
    recorded = services.check_deadlines()
    db.session.commit()
    click.echo(f"Deadlines checked: {recorded} newly overdue.")


def register(app):
    app.cli.add_command(problems_cli)
