"""`flask scores month 2026-10`: every level-2 grid's month assessed from the data, as a table
(the prefecture office's provisional figures; freezing and notices come with the desktop)."""

import re
from typing import Any

import click
from flask.cli import AppGroup

from assess import facts
from grid import scoring

scores_cli = AppGroup("scores", help="The monthly assessment of level-2 grids (RULES §5).")
MONTH = re.compile(r"(\d{4})-(\d{2})")


@scores_cli.command("month")
@click.argument("month")
@click.option(
    "--veto",
    type=click.Choice(list(scoring.VETOES)),
    default=scoring.VETO_TOTAL,
    show_default=True,
    help="Items 1-3 not in place: the month's total is 0, or only the system part.",
)
@click.option("--details", is_flag=True, help="Each grid's breakdown, line by line.")
def month_command(month: str, veto: str, details: bool) -> None:
    """Assess MONTH (YYYY-MM) for every level-2 grid and print the ranking by score."""
    found = MONTH.fullmatch(month)
    if not found:
        raise click.BadParameter("write the month as YYYY-MM, e.g. 2026-10", param_hint="MONTH")
    try:
        months = facts.gather(int(found[1]), int(found[2]), veto)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MONTH") from exc
    ranked = sorted(months, key=lambda m: (-m.assessment.score, m.county.name))
    click.echo(f"{month} 网格化环境监管考核（暂定，未冻结）")
    click.echo("名次\t得分\t等级\t问题占比\t网格\t直接评为不合格")
    for place, item in enumerate(ranked, start=1):
        a = item.assessment
        click.echo(
            f"{place}\t{a.score}\t{a.grade}\t{item.missed_share:.1%}\t{item.county.name}\t"
            + "；".join(a.forced_fail)
        )
        if details:
            for line in a.lines:
                click.echo(f"\t\t{line.points:+d}\t{line.words}")


def register(app: Any) -> None:
    app.cli.add_command(scores_cli)
