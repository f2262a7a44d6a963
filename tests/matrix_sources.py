"""Access-matrix entries for the pollution-source ledger (sources/views.py), merged into
tests/test_access_matrix.py's ROUTES:

    from tests.matrix_sources import source_routes
    ROUTES.update(source_routes(Route, sees))

A function rather than a table, so that this module need not import test_access_matrix (which
imports it). Targets are built from the `world` fixture's grids: "SRC_V"/"SRC_OTHER_V" are a
source in the village V (昌吉市) or OTHER_V (木垒), "DOC_V"/"DOC_OTHER_V" a document of that
source; a village without a demo source gets one.

Policy (RULES §2; DESIGN): whoever sees a source's village sees its dossier; the county's office
staff and administrators, and the prefecture's, keep the ledger.
"""

from datetime import date

import sqlalchemy as sa

from evidence.services import photo_store
from extensions import db
from grid.models import Grid
from sources import services
from sources.models import Source

PDF = b"%PDF-1.4\n%%EOF\n"
# Who keeps the ledger of which village's sources (office or administrator posts above it).
KEEPERS = {
    "V": {"changji", "county_admin", "zhou", "admin"},
    "OTHER_V": {"zhou", "admin"},
    "C": {"changji", "county_admin", "zhou", "admin"},
    "OTHER_C": {"zhou", "admin"},
    "T": {"changji", "county_admin", "zhou", "admin"},
}
SOURCES = ["SRC_V", "SRC_OTHER_V"]
DOCUMENTS = ["DOC_V", "DOC_OTHER_V"]


def _grid_key(target: str) -> str:
    return target.split("_", 1)[1]  # "SRC_OTHER_V" -> "OTHER_V"


def _source(w, target: str) -> int:
    village: Grid = w.grids[_grid_key(target)]
    found = db.session.scalar(
        sa.select(Source.id).where(Source.grid_id == village.id).order_by(Source.id).limit(1)
    )
    if found is not None:
        return found
    source = Source(
        name="矩阵测试源",
        kind="other",
        county_id=village.ancestor_ids[1],
        grid_id=village.id,
        created_on=date(2025, 1, 1),
    )
    db.session.add(source)
    db.session.flush()
    return source.id


def _document(w, target: str) -> int:
    source = db.session.get(Source, _source(w, target))
    document = services.add_document(
        source, "matrix", PDF, "application/pdf", w.users["admin"], photo_store()
    )
    return document.id


def source_routes(Route, sees) -> dict:
    """One Route per `sources.*` endpoint; `Route` and `sees` come from test_access_matrix."""

    def view(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, _grid_key(target)) else 403

    def keep(actor, target):
        if actor == "anon":
            return 401
        return 303 if actor in KEEPERS[_grid_key(target)] else 403

    def index(actor, target):
        if actor == "anon":
            return 302
        return 200 if target is None or sees(actor, target) else 403

    def new(actor, target):
        if actor == "anon":
            return 302
        if target is None:  # a chooser of the counties one keeps, or the only one
            return 200 if actor in KEEPERS["C"] else 403
        if actor not in KEEPERS[target]:
            return 403
        return 404 if target == "T" else 200  # sources belong to level-2 grids

    def post(endpoint_path):
        return Route("POST", lambda w, t: f"/sources/{_source(w, t)}{endpoint_path}", SOURCES, keep)

    return {
        "sources.index": Route(
            "GET",
            lambda w, t: "/sources/" + (f"?grid={w.grids[t].id}" if t else ""),
            [None, "V", "T", "C", "ROOT", "OTHER_V", "OTHER_C"],
            index,
        ),
        "sources.new": Route(
            "GET",
            lambda w, t: "/sources/new" + (f"?county={w.grids[t].id}" if t else ""),
            [None, "C", "OTHER_C", "T"],
            new,
        ),
        "sources.show": Route("GET", lambda w, t: f"/sources/{_source(w, t)}", SOURCES, view),
        "sources.update": post(""),
        "sources.change_status": post("/status"),
        "sources.survey": post("/survey"),
        "sources.move": post("/move"),
        "sources.add_document": post("/documents"),
        "sources.document": Route(
            "GET", lambda w, t: f"/sources/documents/{_document(w, t)}", DOCUMENTS, view
        ),
    }
