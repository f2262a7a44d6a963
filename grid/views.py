"""The grid's pages: the tree and its map, point lookup and staffing, complaint channels, people
and their posts (administrators), signing in and out, and the public disclosure page."""

import hashlib
import json
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import urlsplit

import shapely
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from geoalchemy2.shape import to_shape
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, ValidationError

from extensions import db
from grid import inputs, queries, services, throttle
from grid.access import (
    Action,
    current_account,
    current_scope,
    grid_or_abort,
    load_session_identity,
    person_or_404,
    visible_people_clause,
)
from grid.errors import ServiceError
from grid.forms import perform, submit
from grid.htmx import is_htmx
from grid.models import ComplaintChannel, Grid, GridKind, Membership, Role, User, subtree_clause
from grid.paging import paginate
from grid.queries import find_login
from grid.time import local_today, utcnow

bp = Blueprint("grid", __name__)

ZOOMS = (5, 7, 9, 11, 13, 15)  # GeoJSON is simplified for the nearest of these


@bp.route("/grids/")
@login_required
def index():
    """The grids at the top of the user's scope."""
    scope = current_scope()
    top = db.session.scalars(
        sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
    ).first()
    if top is None:
        return render_template("grid/none.html")
    return redirect(url_for("grid.show", grid_id=top.id))


@bp.route("/grids/<int:grid_id>")
@login_required
def show(grid_id):
    """One grid: its posts, staffing warnings, children and channels."""
    grid = grid_or_abort(grid_id)
    scope = current_scope()
    day = local_today()
    history = inputs.query().flag("history")
    kids = queries.children(grid)
    findings = queries.staffing_of([grid.id] + [k.id for k in kids], day)
    posts = queries.posts_in(Grid.id == grid.id, None if history else day)
    cover = queries.covers_of(p.membership_id for p in posts if p.role == Role.SUBHEAD)
    names = {k.id: k.name for k in kids}
    supervisors = defaultdict(int)
    for p in queries.posts_in(Grid.parent_id == grid.id, day):
        if p.role == Role.SUPERVISOR:
            supervisors[p.grid_id] += 1
    channels = queries.channels_for([grid.id]) if grid.level in (1, 2) else []
    trail = [a for a in queries.ancestors(grid) if scope.sees(a.path)]
    return render_template(
        "grid/show.html",
        grid=grid,
        kids=kids,
        findings=findings,
        posts=posts,
        cover=cover,
        names=names,
        supervisors=supervisors,
        channels=channels,
        trail=trail,
        history=history,
        can_manage_people=scope.allows(Action.MANAGE_PEOPLE, grid),
        can_manage_channels=scope.allows(Action.MANAGE_CHANNELS, grid),
        today=day,
    )


@bp.route("/grids/<int:grid_id>/staffing")
@login_required
def staffing(grid_id):
    """Every staffing warning under a grid (RULES §1), for the county and prefecture offices."""
    grid = grid_or_abort(grid_id)
    report = queries.staffing_report(grid, local_today())
    only = inputs.query().choice("severity", _l("Severity"), ("warning", "notice"))
    if only:
        report = [r for r in report if any(f.severity == only for f in r.findings)]
    counts = defaultdict(int)
    for r in report:
        for f in r.findings:
            counts[f.severity] += 1
    return render_template("grid/staffing.html", grid=grid, report=report, counts=counts, only=only)


@bp.route("/grids/<int:grid_id>/channels", methods=["POST"])
@login_required
def add_channel(grid_id):
    """Publish a local complaint channel."""
    grid = grid_or_abort(grid_id, Action.MANAGE_CHANNELS)
    form = inputs.form()
    return perform(
        lambda: services.add_channel(
            grid,
            form.text("name", _l("Channel"), max_length=100),
            form.text("contact", _l("Contact"), max_length=200),
            by=current_user,
        ),
        _("The channel is published."),
        url_for("grid.show", grid_id=grid.id),
    )


@bp.route("/grids/channels/<int:channel_id>/retire", methods=["POST"])
@login_required
def retire_channel(channel_id):
    """Withdraw a complaint channel from the public page."""
    channel = db.session.get(ComplaintChannel, channel_id) or abort(404)
    grid = grid_or_abort(channel.grid_id, Action.MANAGE_CHANNELS)
    return perform(
        lambda: services.retire_channel(channel, by=current_user),
        _("The channel is withdrawn."),
        url_for("grid.show", grid_id=grid.id),
    )


@bp.route("/grids/map")
@login_required
def map_page():
    """A map of the user's grids; works without a tile server (the boundaries still show)."""
    scope = current_scope()
    focus_id = inputs.query().id("grid", _l("Grid"))
    if focus_id is not None:
        focus = grid_or_abort(focus_id)
    else:
        focus = db.session.scalars(
            sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
        ).first()
    return render_template(
        "grid/map.html",
        focus=focus,
        tile_url=current_app.config["TILE_URL"],
        tile_attribution=current_app.config["TILE_ATTRIBUTION"],
        tile_max_zoom=current_app.config["TILE_MAX_ZOOM"],
    )


def _zoom_bucket(z: int | None, level: int) -> int:
    if z is None:
        z = {1: 6, 2: 8, 3: 10, 4: 12}.get(level, 8)
    return min(ZOOMS, key=lambda b: abs(b - z))


@bp.route("/grids/<int:grid_id>/map.geojson")
@login_required
def geojson(grid_id):
    """The grid and its children as GeoJSON, simplified to about half a pixel at zoom `z`."""
    grid = grid_or_abort(grid_id)
    z = _zoom_bucket(inputs.query().integer("z", _l("Zoom"), low=0, high=22), grid.level)
    version = hashlib.sha256(repr(queries.geometry_version()).encode()).hexdigest()[:16]
    # Weak: the same tag for the plain and the compressed body (Flask-Compress would rewrite a
    # strong one per encoding, which this check would then never match).
    etag = f"{grid.id}-{z}-{version}"
    if request.if_none_match.contains_weak(etag):
        response = current_app.response_class(status=304)
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    tolerance = 360.0 / (256 * 2**z) / 2
    rows = db.session.execute(
        sa.select(Grid.id, Grid.name, Grid.code, Grid.level, Grid.kind, Grid.geom_source, Grid.geom)
        .where(sa.or_(Grid.id == grid.id, Grid.parent_id == grid.id), Grid.geom.is_not(None))
        .order_by(Grid.level, Grid.code, Grid.id)
    ).all()
    features = []
    for gid, name, code, level, kind, source, geom in rows:
        shape = to_shape(geom).simplify(tolerance, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "id": gid,
                "geometry": json.loads(shapely.to_geojson(shapely.set_precision(shape, 1e-6))),
                "properties": {
                    "name": name,
                    "code": code,
                    "level": level,
                    "kind": kind,
                    "source": source,
                    "focus": gid == grid.id,
                    "url": url_for("grid.show", grid_id=gid),
                    "children_url": url_for("grid.geojson", grid_id=gid) if level < 4 else None,
                },
            }
        )
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    response = current_app.response_class(
        body, mimetype="application/geo+json", headers={"Cache-Control": "private, no-cache"}
    )
    response.set_etag(etag, weak=True)
    return response


@bp.route("/grids/locate")
@login_required
def locate():
    """The level-3 and level-4 grids containing a WGS-84 point (?lat=..&lon=..)."""
    args = inputs.query()
    try:
        lat = args.latitude("lat", _l("Latitude"), required=True)
        lon = args.longitude("lon", _l("Longitude"), required=True)
    except inputs.Invalid as exc:
        return jsonify(error="bad_request", message=str(exc)), 400
    found = {}
    for level in (3, 4):
        g = queries.locate(lon, lat, level)
        found[f"level{level}"] = {"id": g.id, "name": g.name, "code": g.code} if g else None
    return jsonify(lat=lat, lon=lon, **found)


# --- the public disclosure page (RULES §1 art. 19; scoring item 3) ----------------------------


@bp.route("/public/")
def disclosure_index():
    """The counties, cities and parks whose grid people are published."""
    counties = db.session.scalars(
        sa.select(Grid).where(Grid.level == 2).order_by(Grid.kind, Grid.code, Grid.id)
    ).all()
    return render_template("grid/public/index.html", counties=counties)


@bp.route("/public/<int:grid_id>")
def disclosure(grid_id):
    """A county's grid heads, sub-grid heads and supervisors down to villages, and where to
    complain; no log-in needed."""
    county = db.session.get(Grid, grid_id)
    if county is None or county.level != 2:
        abort(404)
    day = local_today()
    grids = db.session.execute(
        sa.select(Grid.id, Grid.parent_id, Grid.name, Grid.level, Grid.kind, Grid.code)
        .where(subtree_clause(county.path))
        .order_by(Grid.level, Grid.code, Grid.id)
    ).all()
    posts = queries.posts_in(subtree_clause(county.path), day)
    cover = queries.covers_of(p.membership_id for p in posts if p.role == Role.SUBHEAD)
    by_grid = defaultdict(list)
    for p in posts:
        if p.role in (Role.HEAD, Role.SUBHEAD, Role.SUPERVISOR):
            by_grid[p.grid_id].append(p)
    kids = defaultdict(list)
    for row in grids:
        if row.parent_id is not None:
            kids[row.parent_id].append(row)
    names = {row.id: row.name for row in grids}
    channels = queries.channels_for(county.ancestor_ids + [county.id])
    return render_template(
        "grid/public/disclosure.html",
        county=county,
        kids=kids,
        by_grid=by_grid,
        cover=cover,
        names=names,
        channels=channels,
        hotline=current_app.config["COMPLAINT_HOTLINE"],
        contact=current_app.config["DISCLOSURE_CONTACT"],
        changed=queries.last_changed(county, day),
        key_kind=GridKind.KEY,
    )


# --- people and their posts (administrators, within their subtree) ---------------------------

PAGE_SIZE = 50


def _require_admin():
    if not current_scope().is_admin:
        abort(403)


@bp.route("/people/")
@login_required
def people_index():
    """People the administrator manages, searchable by name, log-in name or mobile."""
    _require_admin()
    q = inputs.query().text("q", _l("Search"), max_length=60)
    query = sa.select(User).where(visible_people_clause(current_scope()))
    if q:
        like = f"%{q}%"
        query = query.where(
            sa.or_(User.name.like(like), User.username.like(like), User.mobile.like(like))
        )
    people = paginate(query.order_by(User.name, User.id), PAGE_SIZE)
    return render_template("grid/people/index.html", people=people, q=q)


@bp.route("/people/new", methods=["GET", "POST"])
@login_required
def people_new():
    """Register a person (their posts are given on the grid pages)."""
    _require_admin()
    if request.method == "GET":
        return render_template("grid/people/new.html", form={})
    form = inputs.form()

    def registered(user):
        flash(
            _("%(name)s is registered. Give them a post from a grid page.", name=user.name),
            "success",
        )
        return redirect(url_for("grid.people_show", user_id=user.id)), 303

    return submit(
        lambda: services.create_user(
            form.text("username", _l("Log-in name"), max_length=64),
            form.text("name", _l("Name"), max_length=60),
            form.text("password", _l("Password"), max_length=200),
            mobile=form.optional_text("mobile", _l("Mobile"), max_length=20),
            office_phone=form.optional_text("office_phone", _l("Office phone"), max_length=30),
            by=current_account(),
        ),
        template="grid/people/new.html",
        context={"form": request.form},
        then=registered,
    )


@bp.route("/people/<int:user_id>")
@login_required
def people_show(user_id):
    """A person and every post they have held, current and past."""
    person = person_or_404(user_id)
    posts = db.session.execute(
        sa.select(Membership, Grid)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Membership.user_id == person.id)
        .order_by(Membership.ended_on.is_not(None), Membership.started_on.desc())
    ).all()
    scope = current_scope()
    since = utcnow() - current_app.permanent_session_lifetime
    return render_template(
        "grid/people/show.html",
        person=person,
        posts=posts,
        today=local_today(),
        can_end={m.id for m, g in posts if scope.allows(Action.MANAGE_PEOPLE, g)},
        devices=len(queries.live_sessions(person.id, since)),
    )


@bp.route("/people/<int:user_id>", methods=["POST"])
@login_required
def people_update(user_id):
    """Change a person's contact details, password or whether they may sign in."""
    person = person_or_404(user_id)
    form = inputs.form()
    return perform(
        lambda: services.update_person(
            person,
            name=form.text("name", _l("Name"), max_length=60),
            mobile=form.optional_text("mobile", _l("Mobile"), max_length=20),
            office_phone=form.optional_text("office_phone", _l("Office phone"), max_length=30),
            password=form.optional_text("password", _l("Password"), max_length=200),
            active=form.flag("active"),
            by=current_user,
        ),
        _("Saved."),
        url_for("grid.people_show", user_id=person.id),
    )


@bp.route("/people/appoint/<int:grid_id>", methods=["POST"])
@login_required
def people_appoint(grid_id):
    """Give a person a post in this grid, from a date (posts are never rewritten)."""
    grid = grid_or_abort(grid_id, Action.MANAGE_PEOPLE)
    form = inputs.form()

    def give():
        role = form.choice("role", _l("Post"), Role.__members__.values())
        started_on = form.day("started_on", _l("From"), default=local_today(), latest=_year_ahead())
        full_time = form.choice_of("full_time", _l("Full-time"), {"1": True, "0": False})
        title = form.optional_text("title", _l("Title"), max_length=60)
        cover_ids = form.ids("covers", _l("Covers")) if role == Role.SUBHEAD else []
        person = queries.find_login(form.text("login", _l("Log-in name or mobile number")))
        reachable = person is not None and db.session.scalar(
            sa.select(User.id).where(User.id == person.id, visible_people_clause(current_scope()))
        )
        if not reachable:
            raise ServiceError(
                _(
                    "No person with that log-in name or mobile number in your "
                    "area. Register them first."
                )
            )
        if role is None:
            raise ServiceError(_("Choose a post."))
        covers = list(db.session.scalars(sa.select(Grid).where(Grid.id.in_(cover_ids))))
        services.appoint(
            person,
            grid,
            role,
            started_on,
            by=current_user,
            full_time=full_time,
            title=title,
            covers=covers,
        )

    return perform(give, _("The post is given."), url_for("grid.show", grid_id=grid.id))


@bp.route("/people/posts/<int:membership_id>/end", methods=["POST"])
@login_required
def people_end_post(membership_id):
    """End a post on its last day; the record stays for the assessment of past months."""
    membership = db.session.get(Membership, membership_id) or abort(404)
    person_or_404(membership.user_id)
    grid_or_abort(membership.grid_id, Action.MANAGE_PEOPLE)
    return perform(
        lambda: services.end_post(
            membership,
            inputs.form().day(
                "last_day", _l("Last day"), default=local_today(), latest=_year_ahead()
            ),
            by=current_user,
        ),
        _("The post is ended."),
        url_for("grid.people_show", user_id=membership.user_id),
    )


def _year_ahead() -> date:
    """Posts are recorded as they are decided: up to a year ahead, not for year 9999."""
    return local_today() + timedelta(days=366)


# --- signing in and out, and one's signed-in devices ---------------------------------------------

# Checked against when the account does not exist, so both answers take as long.
_DUMMY_HASH = generate_password_hash("not-a-password")
# The session cookie's key for its device's secret (grid.models.UserSession): the cookie counts
# only while that row is live.
SESSION_KEY = "sid"


def load_user(user_key: str):
    """The session's user, with the scope of their posts today: one query, from the session's
    live row (ended by signing out or by someone ending it, or past its lifetime: nobody)."""
    user_id, _sep, epoch = user_key.partition(".")
    secret = session.get(SESSION_KEY)
    if not user_id.isdigit() or not epoch.isdigit() or not isinstance(secret, str):
        return None
    now = utcnow()
    first = not db.session().in_transaction()  # nothing read or written before: may commit
    user, scope, seen = load_session_identity(
        services.session_token_hash(secret),
        now - current_app.permanent_session_lifetime,
        now - services.SEEN_EVERY,
        local_today(),
    )
    if (
        user is None
        or seen is None
        or user.id != int(user_id)
        or not user.active
        or user.session_epoch != int(epoch)
    ):
        return None
    g.scope = scope
    g.session_id = seen.id
    if first and seen.due:
        _touch(seen.id, now)
    return user


def _touch(session_id: int, now) -> None:
    """Note the session in use, in a short transaction of its own: the read ends first, so the
    write does not upgrade a stale snapshot (SQLite); if the database stays locked past its busy
    timeout, the note waits for a later request."""
    try:
        db.session.commit()
        services.touch_session(session_id, now)
        db.session.commit()
    except sa.exc.OperationalError:
        db.session.rollback()


def unauthorized():
    """Pages redirect to the sign-in form; scripts (htmx, sync) get a 401 they can act on."""
    wants_json = request.accept_mimetypes.best == "application/json"
    api = request.blueprint == "sync"  # the phone's queue: it keeps its items and asks
    if is_htmx() or wants_json or api or request.method != "GET":
        response = jsonify(
            error="login_required",
            message=_("Please sign in to continue."),
            login_url=url_for("grid.login"),
        )
        response.status_code = 401
        return response
    flash(_("Please sign in to continue."), "info")
    return redirect(url_for("grid.login", next=request.full_path.rstrip("?")))


def _typed(max_length: int, keep: bool = False):
    """A WTForms validator reading the field as grid.inputs reads text (length, one line, no
    control characters); `keep` leaves the value as typed (a password is not trimmed)."""

    def check(form, field):
        try:
            text = inputs.Fields({field.name: field.data}).text(
                field.name, field.label.text, max_length=max_length
            )
        except inputs.Invalid as exc:
            raise ValidationError(str(exc)) from None
        if not keep:
            field.data = text

    return check


class LoginForm(FlaskForm):
    login = StringField(_l("Log-in name or mobile number"), validators=[DataRequired(), _typed(64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), _typed(200, keep=True)])


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect off-site after signing in."""
    if target and target.isprintable():  # no CR/LF to split a header with
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
        ):
            return target
    return url_for("desk.home")


def _sign_in(user: User) -> None:
    """A new session: its own row, its secret in the cookie, and a new CSRF secret (a token
    seen before signing in is refused after it)."""
    secret = services.start_session(
        user,
        user_agent=request.user_agent.string,
        address=request.remote_addr,
        lifetime=current_app.permanent_session_lifetime,
    )
    db.session.commit()
    session.pop("csrf_token", None)
    session[SESSION_KEY] = secret
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a log-in name or mobile number and a password; attempts are throttled per
    address, per account and client, and per account (grid/throttle.py)."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = find_login(form.login.data)
        attempt = throttle.attempt(user and user.id, form.login.data)
        wait = throttle.refusal(attempt)
        if wait is not None:
            form.password.errors.append(throttle.wait_message(wait))
            response = make_response(render_template("grid/login.html", form=form), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        stored = user.password_hash if user else _DUMMY_HASH
        # Hold no transaction (on SQLite: the write lock a POST takes) through the slow hash.
        db.session.rollback()
        valid = check_password_hash(stored, form.password.data)
        if user is not None and valid and user.active:
            _sign_in(user)
            response = redirect(_safe_next(request.args.get("next")))
            throttle.succeeded(attempt, user.id, response)
            return response
        throttle.failed(attempt)
        form.password.errors.append(_("The log-in name or password is wrong."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("grid/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST with the form's token, so no other site can sign anyone out): the
    session's row ends, so a copy of the cookie signs nobody in afterwards."""
    if current_user.is_authenticated:
        services.end_session(g.session_id, current_user.id, current_user.id)
        db.session.commit()
    logout_user()
    session.pop(SESSION_KEY, None)
    session.pop("csrf_token", None)
    flash(_("You have signed out."), "info")
    return redirect(url_for("grid.login"))


@bp.route("/account/sessions")
@login_required
def account_sessions():
    """The devices signed in to one's account, this one marked; any of them can be ended."""
    since = utcnow() - current_app.permanent_session_lifetime
    return render_template(
        "grid/account/sessions.html",
        sessions=queries.live_sessions(current_user.id, since),
        current_id=g.session_id,
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def account_end_session(session_id):
    """End one of one's own sessions (a lost phone); ending this one signs out here."""

    def end():
        if not services.end_session(session_id, current_user.id, current_user.id):
            abort(404)

    return perform(end, _("That device is signed out."), url_for("grid.account_sessions"))


@bp.route("/people/<int:user_id>/sessions/end", methods=["POST"])
@login_required
def people_end_sessions(user_id):
    """End every session of a person one administers (a lost phone, someone leaving)."""
    person = person_or_404(user_id)
    return perform(
        lambda: services.end_sessions_of(person, current_account()),
        _("All of %(name)s's devices are signed out.", name=person.name),
        url_for("grid.people_show", user_id=person.id),
    )
