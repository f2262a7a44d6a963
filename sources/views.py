"""The pollution-source ledger (一企一档): lists, the dossier of one source, and the county's
changes to it (RULES §2: the county keeps the ledger and surveys every source each quarter)."""

import io
import os
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from geoalchemy2.shape import to_shape

from evidence.services import photo_store
from extensions import db
from grid import inputs
from grid.access import Action, current_account, current_scope, grid_or_abort
from grid.errors import ServiceError
from grid.forms import perform, submit
from grid.models import Grid, GridKind, User, subtree_clause
from grid.paging import paginate
from grid.queries import ancestors, names_of
from grid.registry import render_sections
from grid.time import local_today
from sources import catalog, services
from sources.models import Source, SourceChange, SourceDocument, SourceSurvey
from sources.registry import DOSSIER_SECTIONS

bp = Blueprint("sources", __name__, url_prefix="/sources")

PAGE_SIZE = 50
# A browser may send a PDF as application/octet-stream; the file's name says what it claims
# to be, and the service checks that its first bytes agree.
EXTENSION_TYPES = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def _source_or_404(source_id: int) -> Source:
    return db.session.get(Source, source_id) or abort(404)


def _view(source: Source) -> Grid:
    """The grid that decides who sees a source: its village, else its county."""
    return grid_or_abort(source.grid_id or source.county_id, Action.VIEW)


def _manage(source: Source) -> Grid:
    """The source's county, if the user keeps its ledger."""
    return grid_or_abort(source.county_id, Action.MANAGE_LEDGER)


def _county_of(grid: Grid) -> Grid | None:
    """The level-2 grid at or above `grid` (None for the prefecture)."""
    if grid.level == 2:
        return grid
    if grid.level < 2:
        return None
    return db.session.get(Grid, grid.ancestor_ids[1])


def _fields(form: inputs.Fields) -> services.SourceFields:
    """The particulars as typed; Invalid when one cannot be read."""
    lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
    if (lat is None) != (lon is None):
        raise ServiceError(_("Give both latitude and longitude, or neither."))
    special = form.flag("special_supervision")
    return services.SourceFields(
        name=form.text("name", _l("Source name"), max_length=120),
        kind=form.text("kind", _l("Kind"), max_length=20),
        lon=lon,
        lat=lat,
        address=form.optional_text("address", _l("Address"), max_length=200),
        key_polluter=form.flag("key_polluter"),
        special_supervision=special,
        special_reason=(
            form.optional_text("special_reason", _l("Reason"), max_length=200) if special else None
        ),
        contact_name=form.optional_text("contact_name", _l("Contact person"), max_length=60),
        contact_phone=form.optional_text("contact_phone", _l("Contact phone"), max_length=30),
        notes=form.optional_text("notes", _l("Notes"), max_length=4000, multiline=True),
    )


def _form_of(source: Source) -> dict:
    """A source's particulars as the form shows them."""
    shape = to_shape(source.location) if source.location is not None else None
    return {
        "name": source.name,
        "kind": source.kind,
        "lat": f"{shape.y:.6f}" if shape else "",
        "lon": f"{shape.x:.6f}" if shape else "",
        "address": source.address or "",
        "key_polluter": "1" if source.key_polluter else "",
        "special_supervision": "1" if source.special_supervision else "",
        "special_reason": source.special_reason or "",
        "contact_name": source.contact_name or "",
        "contact_phone": source.contact_phone or "",
        "notes": source.notes or "",
    }


@bp.route("/")
@login_required
def index():
    """The sources the user may see, in a grid, filtered and searched by name."""
    scope = current_scope()
    args = inputs.query()
    grid_id = args.id("grid", _l("Grid"))
    kind = args.choice("kind", _l("Kind"), catalog.SOURCE_KINDS, default="")
    status = args.choice("status", _l("Status"), catalog.SOURCE_STATUSES, default="")
    special = args.flag("special")
    q = args.text("q", _l("Search"), max_length=60)
    if grid_id is not None:
        grid = grid_or_abort(grid_id)
        area = subtree_clause(grid.path)
    else:
        grid = db.session.scalars(
            sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
        ).first()
        if grid is None:
            return render_template("grid/none.html", heading=_("Sources"))
        area = scope.grid_clause()  # a sub-grid head sees several villages
    # A source without a location belongs to its county until the county places it.
    query = (
        sa.select(Source)
        .join(Grid, Grid.id == sa.func.coalesce(Source.grid_id, Source.county_id))
        .where(area)
    )
    if kind in catalog.SOURCE_KINDS:
        query = query.where(Source.kind == kind)
    if status in catalog.SOURCE_STATUSES:
        query = query.where(Source.status == status)
    if special:
        query = query.where(Source.special_supervision.is_(True))
    if q:
        query = query.where(Source.name.contains(q, autoescape=True))
    sources = paginate(query.order_by(Source.name, Source.id), PAGE_SIZE)
    county = _county_of(grid)
    if county is not None:
        can_create = scope.allows(Action.MANAGE_LEDGER, county)
    else:
        can_create = bool(scope.office_paths)
    filters = {
        "grid": grid_id,
        "kind": kind or None,
        "status": status or None,
        "special": "1" if special else None,
        "q": q or None,
    }
    return render_template(
        "sources/index.html",
        grid=grid,
        chosen=grid_id is not None,
        up=grid.parent_id if grid.parent_id and scope.sees(_parent_path(grid)) else None,
        sources=sources,
        villages=names_of(Grid, (s.grid_id for s in sources.items)),
        kind=kind,
        status=status,
        special=special,
        q=q,
        filters=filters,
        new_county=county if can_create and county is not None else None,
        can_create=can_create,
    )


def _parent_path(grid: Grid) -> str:
    return grid.path[: grid.path.rstrip("/").rfind("/") + 1]


def _manageable_counties() -> list[Grid]:
    scope = current_scope()
    counties = db.session.scalars(
        sa.select(Grid).where(Grid.level == 2).order_by(Grid.kind, Grid.code, Grid.id)
    ).all()
    return [c for c in counties if scope.allows(Action.MANAGE_LEDGER, c)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a source to a county's ledger; its village is found from its location."""
    county_id = inputs.query().id("county", _l("County"))
    if county_id is None:
        counties = _manageable_counties()
        if not counties:
            abort(403)
        if len(counties) > 1 or request.method == "POST":
            return render_template("sources/choose.html", counties=counties)
        county_id = counties[0].id
    county = grid_or_abort(county_id, Action.MANAGE_LEDGER)
    if county.level != 2:
        abort(404)
    if request.method == "GET":
        return render_template("sources/new.html", county=county, form={})
    form = inputs.form()

    def created(source):
        flash(_("%(name)s is in the ledger.", name=source.name), "success")
        return redirect(url_for("sources.show", source_id=source.id)), 303

    return submit(
        lambda: services.create_source(county, _fields(form), by=current_account()),
        template="sources/new.html",
        context={"county": county, "form": request.form},
        then=created,
    )


@bp.route("/<int:source_id>")
@login_required
def show(source_id):
    """The dossier of one source: particulars, history, surveys, documents, visits, problems."""
    source = _source_or_404(source_id)
    _view(source)
    scope = current_scope()
    county = db.session.get(Grid, source.county_id)
    village = db.session.get(Grid, source.grid_id) if source.grid_id else None
    changes = db.session.scalars(
        sa.select(SourceChange)
        .where(SourceChange.source_id == source.id)
        .order_by(SourceChange.effective_on.desc(), SourceChange.id.desc())
    ).all()
    surveys = db.session.scalars(
        sa.select(SourceSurvey)
        .where(SourceSurvey.source_id == source.id)
        .order_by(SourceSurvey.surveyed_on.desc(), SourceSurvey.id.desc())
    ).all()
    documents = db.session.scalars(
        sa.select(SourceDocument)
        .where(SourceDocument.source_id == source.id)
        .order_by(SourceDocument.at.desc(), SourceDocument.id.desc())
    ).all()
    names = names_of(
        User, [c.by_id for c in changes] + [s.by_id for s in surveys] + [source.last_surveyed_by_id]
    )
    grid_names = names_of(Grid, (c.grid_id for c in changes))
    can_manage = scope.allows(Action.MANAGE_LEDGER, county)
    return render_template(
        "sources/show.html",
        source=source,
        county=county,
        sees_county=scope.sees(county.path),
        ledger=_ledger_of(county, village),
        village=village,
        position=to_shape(source.location) if source.location is not None else None,
        changes=changes,
        surveys=surveys,
        documents=documents,
        sections=render_sections(DOSSIER_SECTIONS, source),
        names=names,
        grid_names=grid_names,
        can_manage=can_manage,
        form=_form_of(source) if can_manage else None,
        towns=_villages_of(county) if can_manage else [],
        today=local_today(),
    )


def _ledger_of(county: Grid, village: Grid | None) -> Grid:
    """The sources list a source's page leads back to: the widest grid from its county down to
    its village that the person sees (a village supervisor does not see the county's list)."""
    if village is None:
        return county  # a source without a location is seen only by those who see its county
    scope = current_scope()
    way_down = [g for g in ancestors(village) if g.level >= county.level] + [village]
    return next(g for g in way_down if scope.sees(g.path))


def _villages_of(county: Grid) -> list[tuple[Grid, list[Grid]]]:
    """The county's villages grouped by township, for the move form."""
    rows = db.session.scalars(
        sa.select(Grid)
        .where(subtree_clause(county.path), Grid.level.in_((3, 4)), Grid.kind != GridKind.KEY)
        .order_by(Grid.level, Grid.code, Grid.id)
    ).all()
    towns = {g.id: (g, []) for g in rows if g.level == 3}
    for g in rows:
        if g.level == 4 and g.parent_id in towns:
            towns[g.parent_id][1].append(g)
    return [t for t in towns.values() if t[1]]


@bp.route("/<int:source_id>", methods=["POST"])
@login_required
def update(source_id):
    """Change a source's particulars; a new location may put it in another village."""
    source = _source_or_404(source_id)
    _manage(source)
    form = inputs.form()
    return perform(
        lambda: services.update_source(source, _fields(form), by=current_account()),
        _("Saved."),
        url_for("sources.show", source_id=source.id),
    )


@bp.route("/<int:source_id>/status", methods=["POST"])
@login_required
def change_status(source_id):
    """Record that a source was relocated, stopped, closed down or is active again."""
    source = _source_or_404(source_id)
    _manage(source)
    form = inputs.form()
    return perform(
        lambda: services.change_status(
            source,
            form.text("status", _l("Status"), max_length=20),
            form.day("effective_on", _l("From"), default=local_today(), latest=_soon()),
            by=current_account(),
            note=form.optional_text("note", _l("Note"), max_length=200),
        ),
        _("The status is changed."),
        url_for("sources.show", source_id=source.id),
    )


@bp.route("/<int:source_id>/survey", methods=["POST"])
@login_required
def survey(source_id):
    """Record the county's quarterly survey of a source (RULES §2)."""
    source = _source_or_404(source_id)
    _manage(source)
    form = inputs.form()
    return perform(
        lambda: services.record_survey(
            source,
            form.past_day("surveyed_on", _l("Surveyed on"), default=local_today()),
            by=current_account(),
            note=form.optional_text("note", _l("Note"), max_length=500, multiline=True),
        ),
        _("The survey is recorded."),
        url_for("sources.show", source_id=source.id),
    )


@bp.route("/<int:source_id>/move", methods=["POST"])
@login_required
def move(source_id):
    """Give a source to another village of its county (its point stays where it is)."""
    source = _source_or_404(source_id)
    county = _manage(source)

    def act():
        form = inputs.form()
        note = form.optional_text("note", _l("Note"), max_length=200)
        village_id = form.id("village", _l("Village"))
        village = db.session.get(Grid, village_id) if village_id else None
        if village is None:
            raise ServiceError(_("Choose a village of %(county)s.", county=county.name))
        services.move_source(source, village, by=current_account(), note=note)

    return perform(act, _("The source is moved."), url_for("sources.show", source_id=source.id))


@bp.route("/<int:source_id>/documents", methods=["POST"])
@login_required
def add_document(source_id):
    """Attach a permit, assessment or other file (PDF, JPEG, PNG) to the dossier."""
    source = _source_or_404(source_id)
    _manage(source)

    def act():
        title = inputs.form().text("title", _l("Document title"), max_length=120)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ServiceError(_("Choose a file."))
        ext = os.path.splitext(upload.filename)[1].lower()
        content_type = EXTENSION_TYPES.get(ext) or upload.mimetype
        data = upload.stream.read(services.MAX_DOCUMENT_BYTES + 1)
        services.add_document(
            source,
            title,
            data,
            content_type,
            by=current_account(),
            store=photo_store(),
        )

    return perform(act, _("The document is added."), url_for("sources.show", source_id=source.id))


@bp.route("/documents/<int:doc_id>")
@login_required
def document(doc_id):
    """A document of a dossier, as a download."""
    item = db.session.get(SourceDocument, doc_id) or abort(404)
    _view(_source_or_404(item.source_id))
    try:
        data = photo_store().get(item.storage_key)
    except KeyError:
        abort(404)
    ext = services.DOCUMENT_TYPES.get(item.content_type, "bin")
    response = send_file(
        io.BytesIO(data),
        mimetype=item.content_type,
        as_attachment=True,
        download_name=f"{_one_line(item.title)}.{ext}",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"  # a dossier names people
    return response


def _one_line(title: str) -> str:
    """A title as a file name: no line breaks or other controls (kept before they were refused)."""
    return "".join(ch if ch.isprintable() else " " for ch in title).strip() or "document"


def _soon() -> date:
    """A status change may be recorded ahead of the day it takes effect, by up to a year."""
    return local_today() + timedelta(days=366)
