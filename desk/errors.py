"""Error pages: a clear message in the user's language, as a page, a fragment or JSON."""

from flask import make_response, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from extensions import backend_unavailable, db
from grid.errors import Conflict, ServiceError
from grid.htmx import render_error

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
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_error(
            400,
            _(
                "The form has expired or was not sent from this site. "
                "Reload the page and try again."
            ),
        )

    @app.errorhandler(ServiceError)
    def _refused(exc):
        # A refusal no unit of work caught (a query string that cannot be read, say): 400, or
        # 409 when someone else changed the record first. Nothing was kept.
        db.session.rollback()
        return render_error(409 if isinstance(exc, Conflict) else 400, str(exc))

    @app.errorhandler(HTTPException)
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

    @app.errorhandler(Exception)
    def _unexpected(exc):
        db.session.rollback()
        if backend_unavailable(exc):
            # Not a 500: what the request wrote was rolled back, and the same request will go
            # through once the part is back. Phones' queues keep and resend on a 503.
            app.logger.error(
                "%s on %s %s: %s", type(exc).__name__, request.method, request.path, exc
            )
            response = make_response(render_error(503, MESSAGES[503]()))
            response.headers["Retry-After"] = str(RETRY_AFTER)
            return response
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, MESSAGES[500]())
