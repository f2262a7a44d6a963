"""Signing in and out; the session's user."""

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from extensions import limiter, login_manager
from grid.access import load_identity
from grid.services import find_login, local_today

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to continue.")
# No "fresh" log-ins are used, and phones change address all day: no session protection
# beyond the signed cookie and User.session_epoch.
login_manager.session_protection = None

# Checked against when the account does not exist, so both answers take as long.
_DUMMY_HASH = generate_password_hash("not-a-password")


@login_manager.user_loader
def load_user(session_id: str):
    """The session's user, with the scope of their posts today (one query for both)."""
    user_id, _sep, epoch = session_id.partition(".")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user, scope = load_identity(int(user_id), local_today())
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    g.scope = scope
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Pages redirect to the sign-in form; scripts (htmx, sync) get a 401 they can act on."""
    wants_json = request.accept_mimetypes.best == "application/json"
    api = request.blueprint == "sync"  # the phone's queue: it keeps its items and asks
    if "HTTP_HX_REQUEST" in request.environ or wants_json or api or request.method != "GET":
        response = jsonify(
            error="login_required",
            message=_("Please sign in to continue."),
            login_url=url_for("auth.login"),
        )
        response.status_code = 401
        return response
    flash(_("Please sign in to continue."), "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class LoginForm(FlaskForm):
    login = StringField(
        _l("Log-in name or mobile number"), validators=[DataRequired(), Length(max=64)]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _account_key() -> str:
    return "login-account:" + (request.form.get("login") or "").strip().lower()


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect off-site after signing in."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
        ):
            return target
    return url_for("desk.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_account_key
)
def login():
    """Sign in with a log-in name or mobile number and a password."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = find_login(form.login.data)
        valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is not None and valid and user.active:
            login_user(user)
            from flask import session

            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("The log-in name or password is wrong."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST with the form's token, so no other site can sign anyone out)."""
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
