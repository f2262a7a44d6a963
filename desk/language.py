"""Which language a request speaks, decided once per request."""

import functools

from babel import Locale
from flask import current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from flask_login import current_user


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
    from flask_babel import gettext as babel_gettext

    return babel_gettext(msgid)


def current_language() -> str:
    """The configured language code in use ("zh_CN" or "en"), not Babel's expanded form."""
    get_locale()  # runs the selector once per request, which records the code
    return g.get("language", current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone():
    return current_app.config["TIMEZONE"]
