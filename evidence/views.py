"""Photos, to those who may see them. The URL stays under /patrol/: the phones' cached pages
link to it."""

from flask import Blueprint, Response, abort, url_for
from flask_login import login_required

from evidence.models import Photo
from evidence.registry import PHOTO_OWNERS
from evidence.services import photo_store
from extensions import db
from grid.access import current_scope
from grid.models import Grid

bp = Blueprint("evidence", __name__)


def photo_or_abort(photo_id: int) -> Photo:
    """The photo, if the signed-in person sees its grid or its record lets them (404, 403)."""
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        abort(404)
    grid = db.session.get(Grid, photo.grid_id)
    if current_scope().sees(grid.path):
        return photo
    for owner in PHOTO_OWNERS.ordered():
        if owner.may_view is not None and owner.may_view(photo.id):
            return photo
    abort(403)


@bp.route("/patrol/photos/<int:photo_id>/<any(display, thumb, original):variant>")
@login_required
def photo(photo_id, variant):
    """A photo, to those who may see its grid. Originals are kept exactly as received."""
    item = photo_or_abort(photo_id)
    key = {"display": item.display_key, "thumb": item.thumb_key, "original": item.original_key}[
        variant
    ]
    try:
        data = photo_store().get(key)
    except KeyError:
        abort(404)
    mimetype = item.content_type if variant == "original" else "image/jpeg"
    response = Response(data, mimetype=mimetype)
    # Evidence may show people and places: kept by no cache, as pages are (the service worker
    # keeps its own copy for offline reading, deleted when the person signs out).
    response.headers["Cache-Control"] = "private, no-store"
    if variant == "original":
        response.headers["Content-Disposition"] = f'attachment; filename="photo-{item.id}"'
    return response


def photo_url(photo_id: int, variant: str = "thumb") -> str:
    return url_for("evidence.photo", photo_id=photo_id, variant=variant)
