"""The enforcement blueprint and its entry page; each workflow adds its pages to `bp`."""

from flask import Blueprint, render_template
from flask_login import login_required

from enforce.access import office_or_abort
from enforce.registry import HUB_SECTIONS

bp = Blueprint("enforce", __name__, url_prefix="/enforce")


@bp.route("/")
@login_required
def index():
    """The three workflows, each with what is due (its HUB_SECTIONS entry)."""
    scope = office_or_abort()
    sections = [section.render(scope) for section in HUB_SECTIONS.ordered()]
    return render_template("enforce/index.html", sections=sections)
