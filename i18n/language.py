"""Which language a request speaks, decided once per request, and translation through its
catalogue."""

import functools

from babel import Locale
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from flask_babel import gettext as babel_gettext
from flask_login import current_user

from extensions import babel


@functools.cache
def _locales(codes: tuple[str, ...]) -> dict[str, Locale]:
    """Parsed once: Babel's Locale.parse scans its locale list on every call."""
    return {code: Locale.parse(code) for code in codes}


def select_locale():
    """The user's choice (account, then cookie), else the default; as a parsed Locale."""
    config = current_app.config
    table = _locales((config["BABEL_DEFAULT_LOCALE"], *config["LANGUAGES"]))
    chosen = None
    if has_request_context():
        if current_user.is_authenticated:
            chosen = current_user.locale
        chosen = chosen or request.cookies.get("lang")
    if chosen not in config["LANGUAGES"]:
        chosen = config["BABEL_DEFAULT_LOCALE"]
    if has_request_context():
        g.language = chosen
    return table[chosen]


def select_timezone():
    return current_app.config["TIMEZONE"]


def request_translations():
    """The request's catalogue, found once (Flask-Babel's own lookup runs per string)."""
    translations = g.get("_translations")
    if translations is None:
        translations = g._translations = get_translations()
    return translations


def gettext(msgid: str) -> str:
    """Translate through the request's catalogue (or Flask-Babel's outside a request)."""
    if has_request_context():
        return request_translations().ugettext(msgid)
    return babel_gettext(msgid)


def current_language() -> str:
    """The configured language code in use ("zh_CN" or "en"), not Babel's expanded form."""
    get_locale()  # runs the selector once per request, which records the code
    return g.get("language", current_app.config["BABEL_DEFAULT_LOCALE"])


def init_app(app: Flask) -> None:
    """Flask-Babel with the selectors above, and templates translating through the request's
    catalogue: they call _() dozens of times a page, and Flask-Babel's own callables find the
    catalogue anew on every call."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: request_translations().ugettext(text),
        ngettext=lambda one, many, n: request_translations().ungettext(one, many, n),
        newstyle=True,
    )
    app.jinja_env.filters["t"] = gettext  # translate a msgid held in a table (N_-marked)


def label(table: dict):
    """A template filter showing a code by its word in `table` (N_-marked msgids), translated;
    an unknown code shows as itself."""
    return lambda code: gettext(table[code]) if code in table else code
