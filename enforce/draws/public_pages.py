"""The public page of the double-random inspections' results (一公开, seed 004 六), without
signing in: the published results by month of inspection, a page at a time; offered on the
sign-in and disclosure pages (grid.registry.PUBLIC_ACTIONS, registered by task_pages)."""

from datetime import date

import sqlalchemy as sa
from flask import render_template
from flask_babel import lazy_gettext as _l

from enforce.draws import results
from enforce.draws.models import Task
from enforce.views import bp
from extensions import db
from grid import inputs
from grid.paging import paginate

PAGE_SIZE = 30


def published_months() -> list[date]:
    """The months (first days) in which a published inspection took place, latest first."""
    days = db.session.scalars(
        sa.select(Task.done_on).where(Task.published_at.is_not(None)).distinct()
    )
    return sorted({d.replace(day=1) for d in days if d}, reverse=True)


@bp.route("/public/inspections")
def public_inspections():
    """Published inspection results (no sign-in): a month's, or every month's, by page."""
    month = inputs.query().month("month", _l("Month"))
    query = results.published()
    if month is not None:
        last = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        query = query.where(Task.done_on >= month, Task.done_on < last)
    page = paginate(query, PAGE_SIZE)
    shown = results.public_results(page.items)
    by_month: dict[date, list[results.PublicResult]] = {}
    for row in shown:
        by_month.setdefault(row.done_on.replace(day=1), []).append(row)
    return render_template(
        "enforce/draws/public_inspections.html",
        page=page,
        by_month=by_month,
        month=month,
        months=published_months(),
        filters={"month": month.strftime("%Y-%m")} if month else {},
    )
