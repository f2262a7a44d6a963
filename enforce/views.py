"""The enforcement blueprint and its entry page; each workflow adds its pages to `bp`."""

from flask import Blueprint, abort, render_template
from flask_login import login_required

from enforce.access import is_office
from enforce.registry import HUB_SECTIONS
from grid.access import current_scope

bp = Blueprint("enforce", __name__, url_prefix="/enforce")


@bp.route("/")
@login_required
def index():
    """The three workflows, each with what is due (its HUB_SECTIONS entry), for the offices;
    the others posted in the prefecture or a level-2 grid (administrators), who see the tab,
    get the page with what is theirs (nothing, or the public pages' links)."""
    scope = current_scope()
    if not (is_office(scope) or any(p.grid_level <= 2 for p in scope.posts)):
        abort(403)
    # The workflows' parts are the offices' work: an administrator gets the public pages only.
    shown = HUB_SECTIONS.ordered() if is_office(scope) else []
    sections = [section.render(scope) for section in shown]
    return render_template("enforce/index.html", sections=sections)
