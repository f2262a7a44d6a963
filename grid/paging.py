"""Lists in pages: Flask-SQLAlchemy's paginate, with the page number read within bounds."""

from typing import Any

from flask import request
from flask_sqlalchemy.pagination import Pagination

from extensions import db

MAX_PAGE = 100_000  # far beyond any list here; a larger number would overflow the OFFSET


def paginate(query: Any, per_page: int = 50) -> Pagination:
    """The requested page (`?page=`, 1 when absent or unreadable) of a SELECT of one entity, with
    the total; a page past the end is empty rather than an error."""
    page = request.args.get("page", 1, type=int)
    page = min(max(page or 1, 1), MAX_PAGE)
    return db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)
