"""Form posts that call one service: commit and confirm, or roll back and say why."""

from collections.abc import Callable

from flask import flash, redirect

from extensions import db
from grid.services import ServiceError


def perform(action: Callable[[], object], done: str, back: str):
    """Run `action`; on a ServiceError nothing is kept and its message is shown. Then 303 to
    `back`, so a reload never posts twice."""
    try:
        action()
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(back), 303
