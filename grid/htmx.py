"""Pages that htmx may ask for a part of: one test of the request, one way to answer."""

from flask import current_app, render_template, request


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
