"""The layout's fixed parts (head links, top bar, navigation, footer), rendered once per
language, sign-in state, rights and section, and kept.

They are the same for every person with the same key, and rendering them on every page cost
more than the rest of a typical page. The cache holds derived HTML that every server builds
identically from the code, so several servers need not share it. The footer's forms carry the
request's CSRF token, which replaces a placeholder on the way out.
"""

import time

from flask import current_app, g, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from grid.access import current_scope
from grid.models import Role
from grid.registry import NAVIGATION, current_section
from i18n.language import current_language

_PARTS = ("head", "topbar", "nav", "footer")
_TOKEN = "csrf-token-placeholder-4c1f"  # noqa: S105 - a marker; real tokens are signed


def _request_key() -> tuple[tuple, dict]:
    """What the fixed parts depend on, and the application's kept parts: found once per
    request."""
    found = g.get("_chrome")
    if found is None:
        extensions = current_app.extensions
        sections = extensions.setdefault("desk.sections", {})  # endpoint -> navigation entry
        endpoint = request.endpoint
        if endpoint not in sections:
            sections[endpoint] = current_section(endpoint)
        signed_in = current_user.is_authenticated
        scope = current_scope() if signed_in else None
        key = (
            request.script_root,
            current_language(),
            signed_in,
            bool(scope and scope.is_admin),
            bool(scope and any(p.grid_level <= 2 for p in scope.posts)),  # county or above
            bool(scope and any(p.role == Role.SUPERVISOR for p in scope.posts)),
            bool(scope and scope.posts),
            sections[endpoint],
        )
        found = g._chrome = (key, extensions.setdefault("desk.chrome", {}))
    return found


def chrome(part: str) -> Markup:
    """One fixed part of the layout for the current request."""
    if part not in _PARTS:
        raise ValueError(f"no layout part {part!r}")
    request_key, cache = _request_key()
    key = (part, *request_key)
    html = cache.get(key)
    if html is None:
        _root, locale, signed_in, is_admin, upper, supervisor, posted, section = key[1:]
        rendered = render_template(
            f"desk/chrome/{part}.html",
            token=_TOKEN,
            locale=locale,
            signed_in=signed_in,
            section=section,
            entries=[
                (name, entry)
                for name, entry in NAVIGATION.ordered_items()
                if entry.shown_to(upper, is_admin, supervisor, posted)
            ],
        )
        html = cache[key] = Markup(rendered)  # noqa: S704 - a rendered template is escaped HTML  # nosec B704
    if part == "footer":
        return Markup(html.replace(_TOKEN, csrf_token()))  # noqa: S704 - URL-safe token  # nosec B704
    return html


_signed: dict[str, tuple[str, float]] = {}
_SIGNED_REUSE = 600.0  # seconds; far inside WTF_CSRF_TIME_LIMIT


def csrf_token() -> str:
    """The form token for this session, re-signed every ten minutes rather than on every page.

    Flask-WTF checks what comes back exactly as before (signature, session, age); this only
    saves signing the same value again and again.
    """
    raw = session.get("csrf_token")
    if raw:
        cached = _signed.get(raw)
        if cached and time.monotonic() - cached[1] < _SIGNED_REUSE:
            return cached[0]
    token = generate_csrf()
    raw = session.get("csrf_token")
    if len(_signed) > 20_000:
        _signed.clear()
    _signed[raw] = (token, time.monotonic())
    return token
