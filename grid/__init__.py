"""The four-level grid: the tree and its geometry, people and their dated posts, who may see
what, the public disclosure page; and the foundations every domain stands on (errors, time,
working days, field readers, the unit of work, the registries of grid/registry.py)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from extensions import login_manager
from grid import cli, labels, throttle, views
from grid.registry import NAVIGATION, POST_LINKS, PUBLIC_ACTIONS, NavEntry, PostLink
from i18n import N_

DEFAULTS = {
    # Map tiles (WGS-84 / Web Mercator): OpenStreetMap by default; Tianditu with a key works too.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    # In the page's language (OpenStreetMap's own Chinese pages say "© OpenStreetMap 贡献者").
    "TILE_ATTRIBUTION": _l("© OpenStreetMap contributors"),
    "TILE_MAX_ZOOM": 18,
    # Log-in throttling (grid/throttle.py); its counters are in RATELIMIT_STORAGE_URI.
    **throttle.DEFAULTS,
    # Public disclosure page (RULES §1 art. 19): which contact is shown, and the national hotline.
    "DISCLOSURE_CONTACT": "office_phone",  # office_phone | mobile | none
    "COMPLAINT_HOTLINE": "12369",
    # Key grids (重点网格) around air-quality stations.
    "KEY_GRID_RADIUS_M": 3000,
    # Working days the calendar package does not know yet ({"2027-01-01": false, ...}).
    "WORKDAY_OVERRIDES": {},
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if app.config["DISCLOSURE_CONTACT"] not in ("office_phone", "mobile", "none"):
        raise RuntimeError("GRIDPATROL_DISCLOSURE_CONTACT must be office_phone, mobile or none")
    login_manager.login_view = "grid.login"
    login_manager.login_message = _l("Please sign in to continue.")
    # No "fresh" log-ins are used, and phones change address all day: no session protection
    # beyond the signed cookie and User.session_epoch.
    login_manager.session_protection = None
    login_manager.user_loader(views.load_user)
    login_manager.unauthorized_handler(views.unauthorized)
    app.register_blueprint(views.bp)
    cli.register(app)
    labels.register(app)
    # The pager of every list (grid/paging.py), made once: a template importing the macro
    # would build its module again on every page.
    app.jinja_env.globals["pager"] = app.jinja_env.get_template("_pagination.html").module.pager
    app.jinja_env.globals["public_actions"] = PUBLIC_ACTIONS.ordered
    NAVIGATION.add(
        app,
        "grids",
        NavEntry(N_("Grids"), "grid.index", 20, "posted", current=("grid.show", "grid.staffing")),
    )
    NAVIGATION.add(
        app, "map", NavEntry(N_("Map"), "grid.map_page", 70, "posted", ("grid.map_page",))
    )
    NAVIGATION.add(
        app, "people", NavEntry(N_("People"), "grid.people_index", 80, "admin", ("grid.people_",))
    )
    NAVIGATION.add(app, "public", NavEntry(N_("Public list"), "grid.disclosure_index", 90))
    POST_LINKS.add(app, "map", PostLink(N_("Map"), "grid.map_page", lambda post: True, 50))
    POST_LINKS.add(
        app,
        "staffing",
        PostLink(
            N_("Staffing warnings"),
            "grid.staffing",
            lambda post: post.grid_level <= 3 and post.grid_kind != "key",
            60,
            grid_arg="grid_id",
        ),
    )
