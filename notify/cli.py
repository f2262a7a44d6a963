"""`flask notify vapid-status`: the VAPID keys the server signs Web Push with and how many
browsers are subscribed with each, to tell when an old key kept as a fallback may be dropped
(docs/operations.md, "Key rotation")."""

from typing import Any

import click
from flask.cli import AppGroup

from grid.forms import unit_of_work
from grid.time import datetime_local
from notify import delivery, queries, services

notify_cli = AppGroup("notify", help="Notifications and their channels.")


def _browsers(count: int, last: Any) -> str:
    text = f"{count} browser{'s' if count != 1 else ''}"
    return text + (f", last delivered {datetime_local(last)}" if last is not None else "")


@notify_cli.command("vapid-status")
@click.option(
    "--forget-retired",
    is_flag=True,
    help="Remove the subscriptions made with a key the server no longer keeps.",
)
def vapid_status_command(forget_retired: bool) -> None:
    """The VAPID keys (current, then the fallbacks) and the browsers subscribed with each. A
    fallback may be dropped once no browser is subscribed with it and none is of a key not yet
    known; every key is read, so a setting that names a missing file fails here."""
    try:
        current = delivery.vapid_keys().application_server_key
        fallbacks = [keys.application_server_key for keys in delivery.vapid_fallbacks()]
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"a VAPID key cannot be read: {exc}") from exc
    counts = queries.subscriptions_by_vapid_key()
    none = (0, None)
    click.echo(f"current        {current}  {_browsers(*counts.pop(current, none))}")
    waiting = 0
    for key in fallbacks:
        count, last = counts.pop(key, none)
        waiting += count
        click.echo(f"fallback       {key}  {_browsers(count, last)}")
    unknown = counts.pop(None, None)
    if unknown:
        waiting += unknown[0]
        click.echo(
            f"not recorded   {_browsers(*unknown)} (made before keys were recorded: signed with"
            " the current key, else each fallback; the key taken is recorded)"
        )
    for key, (count, last) in sorted(counts.items()):
        click.echo(f"retired        {key}  {_browsers(count, last)} (not sent)")
    if fallbacks and waiting:
        click.echo(f"Keep the fallbacks: {waiting} browser(s) may still need them.")
    elif fallbacks:
        click.echo("No browser needs a fallback: they may be dropped.")
    if forget_retired:
        with unit_of_work():
            gone = services.forget_retired_subscriptions()
        click.echo(f"Forgot {gone} subscription(s) made with a retired key.")


def register(app: Any) -> None:
    app.cli.add_command(notify_cli)
