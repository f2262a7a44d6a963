"""`flask scores month 2026-10 [--freeze] [--export notice.xlsx]`: every level-2 grid's month
assessed from the data, as a table; with --freeze, the month frozen (assess/snapshots.py); with
--export, the frozen month's notice written as a workbook (assess/notice.py). A frozen month is
printed from its snapshots."""

import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from assess import facts, snapshots
from assess import notice as notices
from grid import scoring
from grid.errors import ServiceError
from grid.forms import unit_of_work
from grid.models import Grid
from grid.queries import names_of

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
@click.option(
    "--freeze", is_flag=True, help="Freeze the month (once it is over): never changed again."
)
@click.option(
    "--export",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the frozen month's notice as an Excel workbook (PATH.xlsx), after --freeze.",
)
def month_command(month: str, veto: str, details: bool, freeze: bool, export: str | None) -> None:
    """Assess MONTH (YYYY-MM) for every level-2 grid and print the ranking by score; a frozen
    month is printed as frozen (its latest version)."""
    found = MONTH.fullmatch(month)
    if not found:
        raise click.BadParameter("write the month as YYYY-MM, e.g. 2026-10", param_hint="MONTH")
    if export and not export.lower().endswith(".xlsx"):
        raise click.BadParameter("the workbook's name ends in .xlsx", param_hint="--export")
    year, number = int(found[1]), int(found[2])
    try:
        first = facts.month_start(year, number)
        if freeze:
            with unit_of_work():
                snapshots.freeze(year, number, by=None, veto=veto)
        frozen = snapshots.latest(first)
        if frozen:
            names = names_of(Grid, frozen)
            rows = [
                (
                    names[c],
                    s.result["score"],
                    s.result["grade"],
                    s.missed_share,
                    s.result["forced_fail"],
                    s.result["lines"],
                    f"已冻结，第 {s.version} 版",
                )
                for c, s in frozen.items()
            ]
        else:
            rows = [
                (
                    m.county.name,
                    m.assessment.score,
                    m.assessment.grade,
                    m.missed_share,
                    m.assessment.forced_fail,
                    [asdict(line) for line in m.assessment.lines],
                    "",
                )
                for m in facts.gather(year, number, veto)
            ]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MONTH") from exc
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    state = "已冻结" if frozen else "暂定，未冻结"
    click.echo(f"{month} 网格化环境监管考核（{state}）")
    click.echo("名次\t得分\t等级\t问题占比\t网格\t直接评为不合格\t版本")
    ranked = sorted(rows, key=lambda row: (-row[1], row[0]))
    for place, (name, score, grade, share, forced, lines, version) in enumerate(ranked, start=1):
        click.echo(
            f"{place}\t{score}\t{grade}\t{share:.1%}\t{name}\t{'；'.join(forced)}\t{version}"
        )
        if details:
            for line in lines:
                click.echo(f"\t\t{line['points']:+d}\t{line['words']}")
    if export:
        _export(first, export)


def _export(first, path: str) -> None:
    """The frozen month's notice as a workbook at `path` (assess/notice.py)."""
    try:
        Path(path).write_bytes(notices.workbook(notices.notice(first)))
    except ServiceError as exc:  # not frozen
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    click.echo(f"通报已导出：{path}")


def register(app: Any) -> None:
    app.cli.add_command(scores_cli)
