"""Administration of people and their posts (administrators only, within their subtree)."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from extensions import db
from grid import services
from grid.access import Action, current_scope, grid_or_abort, person_or_404, visible_people_clause
from grid.actions import perform
from grid.fields import read_day
from grid.models import Grid, Membership, Role, User
from grid.services import ServiceError, local_today

bp = Blueprint("people", __name__, url_prefix="/people")

PAGE_SIZE = 50


def _require_admin():
    if not current_scope().is_admin:
        abort(403)


@bp.route("/")
@login_required
def index():
    """People the administrator manages, searchable by name, log-in name or mobile."""
    _require_admin()
    q = (request.args.get("q") or "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    query = sa.select(User).where(visible_people_clause(current_scope()))
    if q:
        like = f"%{q}%"
        query = query.where(
            sa.or_(User.name.like(like), User.username.like(like), User.mobile.like(like))
        )
    people = db.session.scalars(
        query.order_by(User.name, User.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    return render_template(
        "people/index.html", people=people[:PAGE_SIZE], q=q, page=page, more=len(people) > PAGE_SIZE
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Register a person (their posts are given on the grid pages)."""
    _require_admin()
    if request.method == "POST":
        form = request.form
        try:
            user = services.create_user(
                form.get("username", ""),
                form.get("name", ""),
                form.get("password", ""),
                mobile=form.get("mobile"),
                office_phone=form.get("office_phone"),
            )
            user.created_by_id = current_user.id
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("people/new.html", form=form), 400
        db.session.commit()
        flash(
            _("%(name)s is registered. Give them a post from a grid page.", name=user.name),
            "success",
        )
        return redirect(url_for("people.show", user_id=user.id)), 303
    return render_template("people/new.html", form={})


@bp.route("/<int:user_id>")
@login_required
def show(user_id):
    """A person and every post they have held, current and past."""
    person = person_or_404(user_id)
    posts = db.session.execute(
        sa.select(Membership, Grid)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Membership.user_id == person.id)
        .order_by(Membership.ended_on.is_not(None), Membership.started_on.desc())
    ).all()
    scope = current_scope()
    return render_template(
        "people/show.html",
        person=person,
        posts=posts,
        today=local_today(),
        can_end={m.id for m, g in posts if scope.allows(Action.MANAGE_PEOPLE, g)},
    )


@bp.route("/<int:user_id>", methods=["POST"])
@login_required
def update(user_id):
    """Change a person's contact details, password or whether they may sign in."""
    person = person_or_404(user_id)
    form = request.form
    return perform(
        lambda: services.update_person(
            person,
            name=form.get("name", ""),
            mobile=form.get("mobile"),
            office_phone=form.get("office_phone"),
            password=form.get("password") or None,
            active=form.get("active") == "1",
            by=current_user,
        ),
        _("Saved."),
        url_for("people.show", user_id=person.id),
    )


@bp.route("/appoint/<int:grid_id>", methods=["POST"])
@login_required
def appoint(grid_id):
    """Give a person a post in this grid, from a date (posts are never rewritten)."""
    grid = grid_or_abort(grid_id, Action.MANAGE_PEOPLE)
    form = request.form

    def give():
        person = services.find_login(form.get("login", ""))
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
        role = form.get("role", "")
        if role not in Role.__members__.values():
            raise ServiceError(_("Choose a post."))
        covers = []
        if role == Role.SUBHEAD:
            ids = [int(i) for i in form.getlist("covers") if i.isdigit()]
            covers = list(db.session.scalars(sa.select(Grid).where(Grid.id.in_(ids))))
        services.appoint(
            person,
            grid,
            role,
            read_day(form.get("started_on"), local_today()),
            by=current_user,
            full_time={"1": True, "0": False}.get(form.get("full_time", "")),
            title=form.get("title"),
            covers=covers,
        )

    return perform(give, _("The post is given."), url_for("grid.show", grid_id=grid.id))


@bp.route("/posts/<int:membership_id>/end", methods=["POST"])
@login_required
def end_post(membership_id):
    """End a post on its last day; the record stays for the assessment of past months."""
    membership = db.session.get(Membership, membership_id) or abort(404)
    person_or_404(membership.user_id)
    grid_or_abort(membership.grid_id, Action.MANAGE_PEOPLE)
    return perform(
        lambda: services.end_post(
            membership, read_day(request.form.get("last_day"), local_today()), by=current_user
        ),
        _("The post is ended."),
        url_for("people.show", user_id=membership.user_id),
    )
