"""Pages that htmx may ask for a part of: one test of the request, one way to answer; and an
error answered the way the request asked (a page, a fragment or JSON)."""

from flask import current_app, jsonify, render_template, request


def is_htmx() -> bool:
    """Whether htmx sent the request (it asks for a fragment, not a page)."""
    return "HTTP_HX_REQUEST" in request.environ  # (request.headers raises on a miss)


def page_or_fragment(page: str, fragment: str, **context):
    """The fragment for htmx, the whole page otherwise; either way `Vary: HX-Request`, so that
    neither the browser nor the service worker keeps a fragment as the page."""
    response = current_app.make_response(
        render_template(fragment if is_htmx() else page, **context)
    )
    response.vary.add("HX-Request")
    return response


def wants_json() -> bool:
    """Whether a script asked (it sends or accepts JSON): it gets the error as JSON."""
    return request.accept_mimetypes.best == "application/json" or request.is_json


def render_error(code: int, message: str, back: str | None = None):
    """An error with its message in the user's language: JSON to scripts, a fragment to htmx, a
    page otherwise (with a link `back` to where the user came from, when given)."""
    if wants_json():
        return jsonify(error=code, message=message), code
    template = "desk/errors/_error.html" if is_htmx() else "desk/errors/error.html"
    return render_template(template, code=code, message=message, back=back), code
