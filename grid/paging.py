"""Lists in pages, the page number read within bounds.

`paginate` is Flask-SQLAlchemy's, with the total: for lists whose total is worth showing and
cheap to count (people, sources). `page_of` reads one row more than a page instead of counting:
for lists that grow with the years of records kept (problems, findings), where counting them all
would cost more than the page itself. Both answer the same questions to the pager
(templates/_pagination.html); `page_of` does not know the number of pages.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination

from extensions import db
from grid import inputs

MAX_PAGE = 100_000  # far beyond any list here; a larger number would overflow the OFFSET


def _page() -> int:
    page = inputs.query().integer("page", _l("Page"), low=1, high=MAX_PAGE, default=1)
    return page or 1


def paginate(query: Any, per_page: int = 50) -> Pagination:
    """The requested page (`?page=`, 1 when absent) of a SELECT of one entity, with
    the total; a page past the end is empty rather than an error."""
    return db.paginate(query, page=_page(), per_page=per_page, error_out=False, count=True)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    has_next: bool
    pages: None = None  # not counted
    total: None = None

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def page_of(query: Any, per_page: int = 50) -> Page:
    """The requested page of a SELECT of one entity, and whether another follows, without
    counting the rest."""
    page = _page()
    rows = list(db.session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(rows[:per_page], page, len(rows) > per_page)
