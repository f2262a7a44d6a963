"""The one unit of work of a form post: everything the services did is committed once, or, when
one of them refuses (ServiceError), nothing is kept and the refusal is shown.

Services flush; only these commit (and the sync API, which answers each item on its own).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import flash, redirect, render_template

from extensions import db
from grid.errors import ServiceError
from grid.htmx import render_error
from grid.inputs import Invalid


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit when the block ends; roll back whatever it raises (and let it through)."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def perform(action: Callable[[], object], done: str, back: str):
    """A post from a page: run `action`, then 303 back to the page with `done` or the refusal,
    so a reload never posts twice. Input that cannot be read (grid.inputs) is answered 400 with
    the reason and a way back."""
    try:
        with unit_of_work():
            action()
    except Invalid as exc:  # unreadable input: not a rule of the record, so answered as such
        return render_error(400, str(exc), back=back)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(back), 303


def submit(
    action: Callable[[], Any],
    *,
    template: str,
    context: dict[str, Any],
    then: Callable[[Any], Any],
):
    """A post of a form page: run `action` and answer `then(its result)`; on a refusal, show the
    form again as typed with the reason (400)."""
    try:
        with unit_of_work():
            result = action()
    except ServiceError as exc:
        flash(str(exc), "error")
        return render_template(template, **context), 400
    return then(result)
