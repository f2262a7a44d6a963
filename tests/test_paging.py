"""Lists in pages (grid/paging.py and templates/_pagination.html): the page read within bounds,
whether another follows without counting, and the filters kept on the links to the next page."""

import pytest
import sqlalchemy as sa
from flask import render_template_string

from grid.inputs import Invalid
from grid.paging import MAX_PAGE, page_of, paginate
from problems.models import Problem


def _three(make_world, make_problem):
    world = make_world()
    made = [make_problem(world).id for _ in range(3)]
    return sa.select(Problem).where(Problem.id.in_(made)).order_by(Problem.id), made


def test_a_page_knows_whether_another_follows_without_counting(
    app, db_session, make_world, make_problem
):
    query, made = _three(make_world, make_problem)
    with app.test_request_context("/?page=1"):
        first = page_of(query, per_page=2)
    assert [p.id for p in first.items] == made[:2]
    assert (first.has_prev, first.has_next, first.next_num, first.pages) == (False, True, 2, None)
    with app.test_request_context("/?page=2"):
        second = page_of(query, per_page=2)
    assert [p.id for p in second.items] == made[2:]
    assert (second.has_prev, second.prev_num, second.has_next) == (True, 1, False)


def test_the_page_number_is_read_within_bounds(app, db_session, make_world, make_problem):
    query, made = _three(make_world, make_problem)
    for asked, page in (("", 1), ("2", 2), (str(MAX_PAGE), MAX_PAGE)):
        with app.test_request_context(f"/?page={asked}"):
            found = page_of(query, per_page=2)
            counted = paginate(query, per_page=2)
        assert found.page == counted.page == page, asked
        assert counted.total == 3
        if page == MAX_PAGE:
            assert found.items == [] and counted.items == [] and not found.has_next
    for asked in ("0", "-3", "two", str(MAX_PAGE + 1), str(2**70)):
        with app.test_request_context(f"/?page={asked}"), pytest.raises(Invalid, match="页码"):
            page_of(query, per_page=2)


def test_the_pager_keeps_the_filters_and_says_where_it_is(
    app, db_session, make_world, make_problem
):
    query, _made = _three(make_world, make_problem)
    with app.test_request_context("/problems/?page=2&overdue=1&grid=7"):
        html = render_template_string(
            "{{ pager(page, 'problems.index', overdue='1', grid=7) }}",
            page=page_of(query, per_page=1),
        )
        counted = render_template_string(
            "{{ pager(page, 'problems.index') }}", page=paginate(query, per_page=1)
        )
    assert 'href="/problems/?page=1&amp;overdue=1&amp;grid=7"' in html
    assert 'href="/problems/?page=3&amp;overdue=1&amp;grid=7"' in html
    assert "第 2 页" in html and "共" not in html  # not counted: no total
    assert "第 2 页,共 3 页" in counted
