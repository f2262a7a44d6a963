"""create_app(): configuration, extensions, blueprints and CLI. The only wiring point."""

import os
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, request

from desk.language import current_language, request_translations, select_locale, select_timezone
from extensions import babel, configure_engine, csrf, db, limiter, login_manager, migrate
from patrol.escalation import Deadlines, RecheckBy

HERE = os.path.dirname(os.path.abspath(__file__))

_DEADLINES = Deadlines()  # the workflow's defaults live with the workflow

DEFAULTS = {
    # Time and language: stored in UTC, shown in China Standard Time; zh_CN first, English second.
    "TIMEZONE": "Asia/Shanghai",
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "BABEL_TRANSLATION_DIRECTORIES": os.path.join(HERE, "translations"),
    "LANGUAGES": ["zh_CN", "en"],
    # Map tiles (WGS-84 / Web Mercator): OpenStreetMap by default; Tianditu with a key works too.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "TILE_ATTRIBUTION": "© OpenStreetMap contributors",
    "TILE_MAX_ZOOM": 18,
    # Sessions and cookies. SESSION_COOKIE_SECURE must stay true behind HTTPS.
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Phones stay signed in for 30 days from signing in. The cookie is not re-sent with every
    # response (that alone cost a quarter of a millisecond per page); revocation does not need
    # it: a password change or disabled account ends every session (User.session_epoch).
    "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
    "SESSION_REFRESH_EACH_REQUEST": False,
    # A supervisor may keep a form open for hours in the field.
    "WTF_CSRF_TIME_LIMIT": 12 * 3600,
    # Log-in rate limits; storage is per process by default, use redis:// with several servers.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "LOGIN_LIMIT_PER_ADDRESS": "30 per minute; 300 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
    # Public disclosure page (RULES §1 art. 19): which contact is shown, and the national hotline.
    "DISCLOSURE_CONTACT": "office_phone",  # office_phone | mobile | none
    "COMPLAINT_HOTLINE": "12369",
    # Key grids (重点网格) around air-quality stations.
    "KEY_GRID_RADIUS_M": 3000,
    # Photo evidence: where originals and derived images are kept, the largest upload, and
    # the CJK font burnt into watermarks (installed by make run / make test).
    "PHOTO_STORAGE_DIR": None,  # default: <instance>/photos
    "PHOTO_MAX_BYTES": 20 * 1024 * 1024,
    "WATERMARK_FONT": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "MAX_CONTENT_LENGTH": 24 * 1024 * 1024,  # several photos plus their form fields
    # The problem workflow (patrol/escalation.py): deadlines, who re-checks, and working days
    # the calendar package does not know yet ({"2027-01-01": false, "2027-02-06": true}).
    "DEADLINE_TOWNSHIP_HOURS": _DEADLINES.township_hours,  # 24
    "DEADLINE_COUNTY_WORKING_DAYS": _DEADLINES.county_working_days,  # 1
    "DEADLINE_PREFECTURE_WORKING_DAYS": _DEADLINES.prefecture_working_days,  # 1
    "DEADLINE_RECHECK_WORKING_DAYS": _DEADLINES.recheck_working_days,  # 3
    "DEADLINE_CONFIRM_HOURS": _DEADLINES.confirm_hours,  # 48
    "RECHECK_BY": RecheckBy.COUNTY.value,  # county | reporter
    "WORKDAY_OVERRIDES": {},
    "COMPLAINT_LIMIT": "5 per hour; 20 per day",  # public complaints per address
    "FINDING_MATCH_DISTANCE_M": 1000,  # upper-level findings: reports this near ...
    "FINDING_MATCH_DAYS": 30,  # ... and found this many days before may be the same
    # (patrol/finding_views.py reads both; nothing else holds these numbers)
    "SPATIALITE_LIBRARY_PATH": "mod_spatialite",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
}


def create_app(test_config=None):
    """Build the application: defaults, then GRIDPATROL_* environment, then test_config."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("GRIDPATROL")
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        "sqlite:///" + os.path.join(app.instance_path, "gridpatrol.db"),
    )
    _check_config(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)
    return app


def _check_config(app):
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "GRIDPATROL_SECRET_KEY is not set. Generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` and export it "
            "(`make run` keeps one in instance/secret_key)."
        )
    if app.config["DISCLOSURE_CONTACT"] not in ("office_phone", "mobile", "none"):
        raise RuntimeError("GRIDPATROL_DISCLOSURE_CONTACT must be office_phone, mobile or none")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        from extensions import sqlite_module

        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["module"] = sqlite_module()
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    elif uri.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]


def _init_extensions(app):
    db.init_app(app)
    with app.app_context():
        configure_engine(app)
    migrate.init_app(app, db, directory=os.path.join(HERE, "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    # Only routes decorated with @limiter.limit (the log-in) are limited, and their decorator
    # checks them; the global before-request check would cost every page ~0.3 ms for nothing.
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Templates call _() dozens of times a page; find the catalogue once per request rather
    # than once per string (Flask-Babel's own callables re-derive it on every call).
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: request_translations().ugettext(text),
        ngettext=lambda one, many, n: request_translations().ungettext(one, many, n),
        newstyle=True,
    )
    login_manager.init_app(app)


def _register_blueprints(app):
    from desk import cli as desk_cli
    from desk.views import bp as desk_bp
    from grid import cli as grid_cli
    from grid.auth import bp as auth_bp
    from grid.people import bp as people_bp
    from grid.views import bp as grid_bp
    from grid.views import public_bp
    from patrol import cli as patrol_cli
    from patrol.finding_views import bp as findings_bp
    from patrol.ledger import bp as ledger_bp
    from patrol.problem_views import bp as problems_bp
    from patrol.views import bp as patrol_bp
    from patrol.views import sync_bp

    for bp in (
        desk_bp,
        auth_bp,
        grid_bp,
        public_bp,
        people_bp,
        patrol_bp,
        sync_bp,
        ledger_bp,
        problems_bp,
        findings_bp,
    ):
        app.register_blueprint(bp)
    grid_cli.register(app)
    patrol_cli.register(app)
    desk_cli.register(app)


def _content_security_policy(app):
    tiles = urlsplit(app.config["TILE_URL"].replace("{s}", "a"))
    tile_origin = f"{tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
    if "{s}" in app.config["TILE_URL"]:
        tile_origin = tile_origin.replace("://a.", "://*.")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {tile_origin}".strip(),
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _register_hooks(app):
    csp = _content_security_policy(app)

    security = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "geolocation=(self), camera=(self)"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if app.config["SESSION_COOKIE_SECURE"]:
        security.append(("Strict-Transport-Security", "max-age=31536000"))

    @app.after_request
    def _security_headers(response):
        # A view may set its own; read the names once (Headers.setdefault raises per miss).
        present = {name.lower() for name, _value in response.headers}
        for name, value in security:
            if name.lower() not in present:
                response.headers.add(name, value)
        if "HTTP_HX_REQUEST" in request.environ:  # (request.headers raises on a miss)
            response.vary.add("HX-Request")
        return response

    @app.teardown_request
    def _rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()

    from desk.assets import asset_url, link
    from desk.chrome import chrome, csrf_token
    from grid.access import current_scope
    from grid.labels import register as register_labels

    register_labels(app)
    from patrol.labels import register as register_patrol_labels

    register_patrol_labels(app)
    from desk.language import gettext

    app.jinja_env.filters["t"] = gettext  # translate a msgid held in a table (N_-marked)
    app.jinja_env.globals.update(
        asset_url=asset_url,
        link=link,
        chrome=chrome,
        current_scope=current_scope,
    )

    @app.context_processor
    def _layout_globals():
        # csrf_token replaces Flask-WTF's, which signs anew on every call; it must come from a
        # context processor registered after CSRFProtect's (a Jinja global would lose to it).
        return {"locale": current_language(), "csrf_token": csrf_token}

    from desk.errors import register_error_handlers

    register_error_handlers(app)
