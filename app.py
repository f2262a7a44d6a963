"""create_app(): configuration, extensions, blueprints and CLI. The only wiring point."""

import os
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import alerts
import assess
import desk
import enforce
import evidence
import grid
import i18n.language
import notify
import ops
import patrol
import problems
import sources
import sync
from extensions import (
    REDIS_TIMEOUTS,
    bind_tasks,
    compress,
    configure_engine,
    csrf,
    db,
    limiter,
    login_manager,
    migrate,
    sqlite_module,
)
from grid.htmx import is_htmx
from grid.inputs import IdConverter

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULTS = {
    # Time and language: stored in UTC, shown in China Standard Time; zh_CN first, English second.
    "TIMEZONE": "Asia/Shanghai",
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "BABEL_TRANSLATION_DIRECTORIES": os.path.join(HERE, "translations"),
    "LANGUAGES": ["zh_CN", "en"],
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
    # Rate limits (the log-in, public complaints): per process by default, redis:// with
    # several servers.
    "RATELIMIT_STORAGE_URI": "memory://",
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (nginx: 1).
    # With 0 those headers are ignored: anyone could write them.
    "TRUSTED_PROXIES": 0,
    "RATELIMIT_HEADERS_ENABLED": True,
    "MAX_CONTENT_LENGTH": 24 * 1024 * 1024,  # several photos plus their form fields
    "SPATIALITE_LIBRARY_PATH": "mod_spatialite",
    # PostgreSQL's connections are checked as they leave the pool (below); SQLite's are files.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # Responses are compressed for clients that accept it (Flask-Compress): pages, styles,
    # scripts, JSON, GeoJSON, SVG and the manifest; photos and documents are JPEG, PNG or PDF,
    # compressed already, and are sent as they are. Brotli where the browser offers it, else
    # gzip; static files are sent as streams (send_file), so both serve them too.
    "COMPRESS_MIMETYPES": [
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/geo+json",
        "application/manifest+json",
        "image/svg+xml",
    ],
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 500,  # bytes; below that the headers cost more than they save
    "COMPRESS_REGISTER": False,  # its after-request hook is _init_extensions' _compress
}
# Each domain sets its own defaults (its DEFAULTS) and registers its blueprint, commands,
# template filters and registry entries in init_app; bottom of the stack first (DESIGN.md).
DOMAINS = (
    grid,
    notify,
    evidence,
    sources,
    sync,
    patrol,
    problems,
    alerts,
    assess,
    enforce,
    desk,
    ops,
)


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
    # Every <int:...> in a path is a record id within the database's integer (before any route).
    app.url_map.converters["int"] = IdConverter
    _trust_proxies(app)
    _init_extensions(app)
    for domain in DOMAINS:
        domain.init_app(app)
    bind_tasks(app)
    _register_hooks(app)
    return app


def _check_config(app):
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "GRIDPATROL_SECRET_KEY is not set. Generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` and export it "
            "(`make run` keeps one in instance/secret_key)."
        )
    fallbacks = app.config.get("SECRET_KEY_FALLBACKS")
    if isinstance(fallbacks, str):
        # One old key written bare (not as the JSON list the environment is read as): one key,
        # never a list of its characters, each of which would then sign a valid cookie.
        app.config["SECRET_KEY_FALLBACKS"] = [fallbacks]
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["module"] = sqlite_module()
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    elif uri.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith(("postgresql://", "postgresql+psycopg://")):
        # A database host that stopped answering fails a new connection in seconds, rather than
        # after the operating system's two minutes: a worker (or the health check) is not held.
        # A pooled connection the server dropped (PostgreSQL restarted) is replaced as it leaves
        # the pool, one round trip, instead of failing the request that took it.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
        options.setdefault("pool_pre_ping", True)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        # Redis out of reach (its network cut) fails a log-in's counters in seconds (503, try
        # again), instead of holding the request until the link comes back.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", dict(REDIS_TIMEOUTS))


def _trust_proxies(app):
    """Behind TRUSTED_PROXIES proxies, the client's address (rate limits, signed-in devices),
    scheme and host are those the nearest of them forwarded; never more hops than configured."""
    hops = app.config["TRUSTED_PROXIES"]
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise RuntimeError("GRIDPATROL_TRUSTED_PROXIES must be a whole number, 0 or more")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _init_extensions(app):
    compress.init_app(app)

    # Registered first, so it runs last: it compresses the response every other hook has
    # finished, and adds Vary: Accept-Encoding to what they set.
    @app.after_request
    def _compress(response):
        # A byte range (206) is a range of the plain file: compressed, its Content-Range
        # would describe bytes the client never gets. Such a response goes as it is.
        if response.status_code == 206:
            response.vary.add("Accept-Encoding")
            return response
        body = response.response
        response = compress.after_request(response)
        if response.response is not body and hasattr(body, "close"):
            # A file it now streams through the compressor (send_file): close it with the
            # response, as the file's own wrapper would have been.
            response.call_on_close(body.close)
        return response

    db.init_app(app)
    with app.app_context():
        configure_engine(app)
    migrate.init_app(app, db, directory=os.path.join(HERE, "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    # Only routes decorated with @limiter.limit (public complaints) are limited, and their
    # decorator checks them (the log-in counts on its own: grid/throttle.py); the global
    # before-request check would cost every page ~0.3 ms for nothing.
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    i18n.language.init_app(app)
    login_manager.init_app(app)


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
        # Pages and data are kept by no cache, the browser's included (an office computer is
        # shared; Back after signing out shows nothing): a response that may be kept says so
        # itself (static files, the manifest, the service worker, map boundaries). The service
        # worker's offline copies are its own (Cache API), deleted when the person signs out.
        ("Cache-Control", "no-store"),
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
        if is_htmx():
            response.vary.add("HX-Request")
        return response

    @app.teardown_request
    def _rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()
