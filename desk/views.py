"""The front door: each person's home page, and the installable app shell around every page."""

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from desk.assets import SHELL_FILES, asset_url, shell_version
from desk.queries import home_counts
from extensions import csrf
from grid import inputs
from grid.access import current_account, current_scope
from grid.forms import unit_of_work
from grid.registry import POST_LINKS
from problems.queries import receives_assignments

bp = Blueprint("desk", __name__)


@bp.route("/")
@login_required
def home():
    """What the signed-in person holds and looks after, with counts and what waits for them:
    each domain's count (grid.registry.HOME_COUNTS) and the links on each post's card."""
    scope = current_scope()
    links = POST_LINKS.ordered()
    return render_template(
        "desk/home.html",
        posts=[(post, [k for k in links if k.when(post)]) for post in scope.posts],
        counts=home_counts(current_user.id, scope.posts),
        # without a post: a department's officer, whose work is what is assigned to them
        assigned=not scope.posts and receives_assignments(current_user.id),
    )


@bp.route("/offline")
def offline():
    """Shown by the service worker when a page is neither reachable nor cached."""
    return render_template("desk/offline.html")


@bp.route("/lang", methods=["POST"])
def set_language():
    """Switch the interface language; remembered in a cookie and on the account."""
    lang = inputs.form().choice("lang", _l("Language"), current_app.config["LANGUAGES"])
    back = request.referrer or url_for("desk.home")
    if not back.startswith(request.host_url):
        back = url_for("desk.home")
    response = redirect(back)
    if lang:
        response.set_cookie(
            "lang",
            lang,
            max_age=365 * 86400,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
        )
        if current_user.is_authenticated:
            with unit_of_work():
                current_account().locale = lang
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: installable, standalone, with plain and maskable icons."""
    data = {
        "name": "网格巡查 GridPatrol",
        "short_name": "网格巡查",
        "description": _("Environmental supervision grid: patrols, problems and alerts"),
        "lang": "zh-CN",
        "start_url": url_for("desk.home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": "#0b6e4f",
        "background_color": "#ffffff",
        "icons": [
            {"src": asset_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": asset_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": asset_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = Response(json.dumps(data, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/sw.js")
@csrf.exempt
def service_worker():
    """The service worker, from the site root so that it controls every page."""
    precache = [url_for("desk.offline"), url_for("desk.manifest")]
    precache += [asset_url(name) for name in SHELL_FILES]
    env = current_app.jinja_env
    sources = [
        env.loader.get_source(env, name)[0]
        for name in ("desk/sw.js", "desk/offline.html", "base.html")
    ]
    body = render_template(
        "desk/sw.js",
        queue_url=asset_url("js/queue.js"),
        precache=precache,
        offline_url=url_for("desk.offline"),
        login_url=url_for("grid.login"),
        version=shell_version(*sources),
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
