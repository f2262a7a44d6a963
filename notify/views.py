"""A person's notifications."""

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from grid.forms import perform
from notify import queries, services

bp = Blueprint("notify", __name__)


@bp.route("/notifications")
@login_required
def index():
    """My notifications, newest first."""
    items = queries.recent(current_user.id)
    return render_template(
        "notify/index.html", items=items, unread=sum(1 for n in items if n.read_at is None)
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    """Mark all my notifications read."""
    return perform(
        lambda: services.mark_read(current_user.id),
        _("Marked as read."),
        url_for("notify.index"),
    )
