"""The one unit of work of a form post: everything the services did is committed once, or, when
one of them refuses (ServiceError), nothing is kept and the refusal is shown.

Services flush; only these commit (and the sync API, which answers each item on its own).

The write transaction begins here. A view marked `reads_first` reads and does its heavy work
(decoding photos: `prepare`) in a deferred transaction, which `unit_of_work` ends before it
begins the one that writes: on SQLite the single write lock is held for the inserts only.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import flash, redirect, render_template

from extensions import db, holds_write_lock, writing
from grid.errors import ServiceError
from grid.htmx import render_error
from grid.inputs import Invalid

V = TypeVar("V", bound=Callable[..., Any])


def reads_first(view: V) -> V:
    """Mark a view whose posts read and decode before they write (put it under @bp.route):
    its requests begin with a deferred transaction, and the write lock is taken by its
    unit_of_work() only."""
    view.reads_first = True  # type: ignore[attr-defined]
    return view


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit when the block ends; roll back whatever it raises (and let it through).

    A read transaction still open (a `reads_first` view's) is ended first, so that the
    block's own transaction is one that may write (BEGIN IMMEDIATE on SQLite)."""
    session = db.session()  # the request's Session itself (scoped_session has no in_transaction)
    if session.in_transaction() and not holds_write_lock(session.connection()):
        session.commit()  # nothing was written: this only ends the reads
    token = writing.set(True)
    try:
        try:
            yield
        except BaseException:
            session.rollback()
            raise
        session.commit()
    finally:
        writing.reset(token)


def perform(
    action: Callable[..., Any],
    done: str | Callable[[Any], str],
    back: str,
    prepare: Callable[[], object] | None = None,
    then: Callable[[Any], Any] | None = None,
):
    """A post from a page: run `action`, then 303 back to the page with `done` or the refusal,
    so a reload never posts twice. `done` may be a function of what `action` returned (a
    message that says what was done). `prepare` (decoding photos, say) runs first, outside the
    write transaction; `action` receives what it returned. Input that cannot be read
    (grid.inputs) is answered 400 with the reason and a way back. With `then`, a success is
    answered `then(what action returned)` instead (a page shown once, say)."""
    try:
        ready = () if prepare is None else (prepare(),)
        with unit_of_work():
            result = action(*ready)
    except Invalid as exc:  # unreadable input: not a rule of the record, so answered as such
        return render_error(400, str(exc), back=back)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        if then is not None:
            return then(result)
        flash(done(result) if callable(done) else done, "success")
    return redirect(back), 303


def submit(
    action: Callable[..., Any],
    *,
    template: str,
    context: dict[str, Any],
    then: Callable[[Any], Any],
    prepare: Callable[[], object] | None = None,
):
    """A post of a form page: run `action` and answer `then(its result)`; on a refusal, show the
    form again as typed with the reason (400, or the refusal's own `status`: 503 with
    Retry-After when the server is busy). `prepare` runs first, outside the write transaction;
    `action` receives what it returned."""
    try:
        ready = () if prepare is None else (prepare(),)
        with unit_of_work():
            result = action(*ready)
    except ServiceError as exc:
        flash(str(exc), "error")
        status = getattr(exc, "status", 400)
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry else {}
        return render_template(template, **context), status, headers
    return then(result)
