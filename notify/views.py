"""A person's notifications and channels; the group robots of a county's office; the log of
deliveries."""

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from extensions import db
from grid import inputs
from grid.access import Action, current_account, current_scope, grid_or_abort
from grid.forms import perform, submit, unit_of_work
from grid.models import Grid
from grid.paging import paginate
from notify import delivery, queries, robots, services
from notify.models import Robot

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


@bp.route("/notifications/badge")
@login_required
def badge():
    """The unread count in the top bar, polled by htmx (one COUNT)."""
    html = render_template("notify/_badge.html", unread=queries.unread_count(current_user.id))
    answer = make_response(html)
    answer.headers["Cache-Control"] = "no-store"
    answer.vary.add("HX-Request")
    return answer


# --- my channels ---------------------------------------------------------------------------------


def _settings_context():
    return {
        "choice": queries.channel_choice(current_user.id),
        "devices": queries.subscriptions(current_user.id),
        "mask": delivery.mask_endpoint,
    }


@bp.route("/notifications/settings")
@login_required
def settings():
    """My channels: Web Push on this and my other browsers, robot mentions, SMS."""
    return render_template("notify/settings.html", **_settings_context())


@bp.route("/notifications/settings", methods=["POST"])
@login_required
def save_settings():
    """Keep my choice of channels."""
    form = inputs.form()
    return perform(
        lambda: services.choose_channels(
            current_user.id, form.flag("web_push"), form.flag("robot"), form.flag("sms")
        ),
        _("Your channels are saved."),
        url_for("notify.settings"),
    )


@bp.route("/notifications/push", methods=["POST"])
@login_required
def push_subscribe():
    """Keep this browser's push subscription (its PushSubscription.toJSON(), as JSON, with the
    key it was made for as `applicationServerKey` and, when it takes the place of an older one,
    that one's endpoint as `replaces`); the answer says the server's current key."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise inputs.Invalid(
            "subscription", _l("The push subscription must be sent as a JSON object.")
        )
    fields = inputs.Fields(data)
    endpoint = fields.text("endpoint", _l("Push subscription"), required=True, max_length=2000)
    keys = fields.object("keys", _l("Push subscription"))
    subscription = {
        "endpoint": endpoint,
        "keys": {
            "p256dh": keys.text("p256dh", _l("Push subscription"), required=True, max_length=100),
            "auth": keys.text("auth", _l("Push subscription"), required=True, max_length=40),
        },
    }
    server_key = fields.text("applicationServerKey", _l("Push subscription"), max_length=100)
    replaces = fields.text("replaces", _l("Push subscription"), max_length=2000)
    agent = (request.user_agent.string or "")[:300]
    with unit_of_work():
        row = services.subscribe(current_user.id, subscription, agent, server_key, replaces)
        answer = {
            "ok": True,
            "id": row.id,
            "key": delivery.vapid_keys().application_server_key,
            "message": _("This browser will receive pushes."),
        }
    return jsonify(answer)


@bp.route("/notifications/push/delete", methods=["POST"])
@login_required
def push_unsubscribe():
    """Forget one of my browsers (this one, when its script unsubscribed)."""
    endpoint = inputs.form().text(
        "endpoint", _l("Push subscription"), required=True, max_length=2000
    )
    return perform(
        lambda: services.unsubscribe(current_user.id, endpoint),
        _("That browser will no longer receive pushes."),
        url_for("notify.settings"),
    )


# --- a county's group robots ----------------------------------------------------------------------


def _robot_or_abort(robot_id: int) -> tuple[Robot, Grid]:
    """A robot the user keeps (office staff and administrators of its grid); 404 if none."""
    robot = db.session.get(Robot, robot_id) or abort(404)
    return robot, grid_or_abort(robot.grid_id, Action.MANAGE_CHANNELS)


def _robots_grid() -> Grid:
    """The grid whose robots are shown or added to: ?grid=, else the user's first; 403 for
    people who keep no robots."""
    grid_id = inputs.query().id("grid", _l("Grid"))
    if grid_id is not None:
        return grid_or_abort(grid_id, Action.MANAGE_CHANNELS)
    grids = queries.manageable_grids(current_scope())
    if not grids:
        abort(403)
    return grids[0]


def _robots_context(grid: Grid) -> dict:
    return {
        "grid": grid,
        "grids": queries.manageable_grids(current_scope()),
        "robots": queries.robots_of(grid.id),
        "kinds": robots.ROBOT_KINDS,
        "mask": delivery.mask_webhook,
    }


@bp.route("/notifications/robots")
@login_required
def robots_index():
    """The group robots (WeCom, DingTalk) of a county or the prefecture."""
    return render_template("notify/robots.html", **_robots_context(_robots_grid()))


def _robot_fields(form: inputs.Fields, new: bool) -> dict:
    fields = {
        "name": form.text("name", _l("Robot name"), required=True, max_length=60),
        "webhook_url": form.text("webhook_url", _l("Webhook URL"), required=new, max_length=2000),
        "secret": form.text("secret", _l("Signing secret"), max_length=200) or None,
    }
    if new:
        fields["kind"] = form.choice("kind", _l("Robot type"), robots.ROBOT_KINDS, required=True)
    return fields


@bp.route("/notifications/robots", methods=["POST"])
@login_required
def robots_add():
    """Add a group robot to the grid of ?grid= (else the user's first)."""
    grid = _robots_grid()
    form = inputs.form()
    return submit(
        lambda: services.add_robot(grid, by=current_account(), **_robot_fields(form, True)),
        template="notify/robots.html",
        context=_robots_context(grid),
        then=lambda robot: _saved(_("The robot is added."), robot.grid_id),
    )


def _saved(message: str, grid_id: int):
    flash(message, "success")
    return redirect(url_for("notify.robots_index", grid=grid_id), 303)


@bp.route("/notifications/robots/<int:robot_id>/edit")
@login_required
def robots_edit(robot_id):
    """Change a robot: its name, whether it is used, a new webhook URL or secret."""
    robot, grid = _robot_or_abort(robot_id)
    return render_template(
        "notify/robot_edit.html", robot=robot, grid=grid, mask=delivery.mask_webhook
    )


@bp.route("/notifications/robots/<int:robot_id>/edit", methods=["POST"])
@login_required
def robots_update(robot_id):
    """Save a robot's changes."""
    robot, grid = _robot_or_abort(robot_id)
    form = inputs.form()
    return submit(
        lambda: services.edit_robot(
            robot,
            enabled=form.flag("enabled"),
            clear_secret=form.flag("clear_secret"),
            **_robot_fields(form, False),
        ),
        template="notify/robot_edit.html",
        context={"robot": robot, "grid": grid, "mask": delivery.mask_webhook},
        then=lambda robot: _saved(_("The robot is saved."), robot.grid_id),
    )


@bp.route("/notifications/robots/<int:robot_id>/test", methods=["POST"])
@login_required
def robots_test(robot_id):
    """Send a test message now and say what the robot answered."""
    robot, grid = _robot_or_abort(robot_id)
    title = _("GridPatrol test message")
    lines = [_("This group will receive GridPatrol messages for %(grid)s.", grid=grid.name)]
    with unit_of_work():
        answer = services.try_robot(robot, title, lines)
    if answer.ok:
        flash(_("The robot answered: sent."), "success")
    else:
        reason = answer.errmsg or (f"HTTP {answer.status}" if answer.status else "-")
        reason = delivery.scrub(reason, robot.webhook_url, robot.secret)
        flash(_("The robot did not take the message: %(answer)s", answer=reason), "warning")
    return redirect(url_for("notify.robots_index", grid=grid.id), 303)


@bp.route("/notifications/robots/<int:robot_id>/delete", methods=["POST"])
@login_required
def robots_delete(robot_id):
    """Remove a robot."""
    robot, grid = _robot_or_abort(robot_id)
    return perform(
        lambda: services.delete_robot(robot),
        _("The robot is removed."),
        url_for("notify.robots_index", grid=grid.id),
    )


# --- the delivery log -----------------------------------------------------------------------------


@bp.route("/notifications/deliveries")
@login_required
def deliveries():
    """Every attempt to deliver: my notifications', and my county's robots'."""
    page = paginate(queries.deliveries_statement(current_scope(), current_user.id))
    return render_template("notify/deliveries.html", page=page)
