"""The monthly notice (assess/notice.py) as a print-ready page and as an Excel workbook.

Who reads it: whoever sees the whole prefecture (the prefecture office among them), and the
office or head of any level-2 grid, to whom the notice is addressed; nobody else. A month that
is not frozen has no notice: 409, with what to do, never a notice made from moving data."""

from datetime import date
from urllib.parse import quote

from flask import Response, abort, render_template, url_for
from flask_login import login_required

from assess import notice as notices
from assess.access import may_read_notice
from assess.views import _month, bp  # the month asked for, as on the other pages
from grid.access import current_scope
from grid.htmx import render_error

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _not_frozen(first: date, exc: notices.NotFrozen):
    back = url_for("assess.index", month=f"{first:%Y-%m}") if current_scope().everything else None
    return render_error(409, str(exc), back=back)


def _frozen_notice():
    """The month asked for and its notice, or the answer that it is not frozen (409)."""
    if not may_read_notice(current_scope()):
        abort(403)
    first = _month()
    try:
        return first, notices.notice(first)
    except notices.NotFrozen as exc:
        return first, _not_frozen(first, exc)


@bp.route("/notice")
@login_required
def notice():
    """The month's notice (通报), to read on screen and print on A4."""
    first, made = _frozen_notice()
    if not isinstance(made, notices.Notice):
        return made  # the month is not frozen: said so
    everything = current_scope().everything  # the ranking's page is theirs: link back to it
    return render_template("assess/notice.html", notice=made, month=first, ranking=everything)


@bp.route("/notice.xlsx")
@login_required
def notice_xlsx():
    """The month's notice as an Excel workbook, downloaded."""
    first, made = _frozen_notice()
    if not isinstance(made, notices.Notice):
        return made
    name = f"考核通报-{first:%Y-%m}.xlsx"
    disposition = (
        f"attachment; filename=\"notice-{first:%Y-%m}.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        notices.workbook(made),
        mimetype=XLSX,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
