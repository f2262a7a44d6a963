"""Error pages: a clear message in the user's language, as a page, a fragment or JSON."""

import functools
from pathlib import Path

from flask import g, jsonify, make_response, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from extensions import backend_unavailable, db, login_manager
from grid.errors import Conflict, ServiceError
from grid.htmx import render_error, wants_json

MESSAGES = {
    400: lambda: _("The request could not be understood."),
    403: lambda: _("You do not have access to this page."),
    404: lambda: _("This page does not exist, or you cannot see it."),
    405: lambda: _("This action is not allowed here."),
    413: lambda: _("The upload is too large."),
    429: lambda: _("Too many attempts. Please wait a moment and try again."),
    500: lambda: _("Something went wrong on the server. Nothing was saved."),
    503: lambda: _("The server cannot save just now. Nothing was saved; try again in a moment."),
}
# Seconds a client is asked to wait after a 503 (a phone's queue sends again by itself).
RETRY_AFTER = 10


def register_error_handlers(app):
    def handler(kind):
        """app.errorhandler(kind), and a page that cannot be made because the database (or
        Redis) is out of reach (the menu reads the account) is the 503 instead of a bare 500."""

        def register(function):
            @functools.wraps(function)
            def answer(exc):
                try:
                    return function(exc)
                except Exception as failed:
                    if not backend_unavailable(failed):
                        raise
                    db.session.rollback()
                    app.logger.error(
                        "%s while answering %r: %s", type(failed).__name__, exc, failed
                    )
                    return _unavailable(app)

            return app.errorhandler(kind)(answer)

        return register

    @handler(CSRFError)
    def _csrf(exc):
        return render_error(
            400,
            _(
                "The form has expired or was not sent from this site. "
                "Reload the page and try again."
            ),
        )

    @handler(ServiceError)
    def _refused(exc):
        # A refusal no unit of work caught (a query string that cannot be read, say): 400, or
        # 409 when someone else changed the record first. Nothing was kept.
        db.session.rollback()
        return render_error(409 if isinstance(exc, Conflict) else 400, str(exc))

    @handler(HTTPException)
    def _http(exc):
        code = exc.code or 500
        text = MESSAGES.get(code)
        response = make_response(render_error(code, text() if text else exc.description))
        # The headers the error carries besides its own page's type: Allow on a 405 (HTTP
        # requires it), Retry-After, WWW-Authenticate.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @handler(Exception)
    def _unexpected(exc):
        db.session.rollback()
        if backend_unavailable(exc):
            # Not a 500: what the request wrote was rolled back, and the same request will go
            # through once the part is back. Phones' queues keep and resend on a 503.
            app.logger.error(
                "%s on %s %s: %s", type(exc).__name__, request.method, request.path, exc
            )
            return _unavailable(app)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, MESSAGES[500]())


def _unavailable(app):
    """503 with Retry-After, made without the database: the account is not read again (it is
    anonymous for the rest of the answer, the hooks included), the message is in the language
    of the cookie, and a page is nginx's own "unavailable" page, which needs nothing."""
    g._login_user = login_manager.anonymous_user()  # Flask-Login's slot for current_user
    if wants_json():
        response = jsonify(error=503, message=MESSAGES[503]())
    else:
        page = Path(app.static_folder, "errors", "503.html").read_bytes()
        response = make_response(page)
        response.mimetype = "text/html"
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
