"""Reading what people type into forms (grid/fields.py): a value, or a message."""

from datetime import date

import pytest
from flask import Flask
from flask_babel import Babel

from grid.errors import ServiceError
from grid.fields import read_day, read_degrees, read_required_day


@pytest.fixture(autouse=True)
def context():
    app = Flask(__name__)
    Babel(app)
    with app.app_context():
        yield


@pytest.mark.parametrize(
    ("typed", "default", "expected"),
    [
        ("2026-11-22", None, date(2026, 11, 22)),
        (" 2026-03-01 ", None, date(2026, 3, 1)),
        ("", None, None),
        (None, None, None),
        ("   ", date(2026, 1, 1), date(2026, 1, 1)),
        ("2026-12-31", date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_read_day(typed, default, expected):
    assert read_day(typed, default) == expected


@pytest.mark.parametrize("typed", ["2026-02-30", "22/11/2026", "yesterday", "2026-13-01"])
def test_a_day_that_is_not_one_says_how_to_write_it(typed):
    with pytest.raises(ServiceError, match="YYYY-MM-DD"):
        read_day(typed)


@pytest.mark.parametrize("typed", ["", None, "  "])
def test_a_required_day_must_be_given(typed):
    with pytest.raises(ServiceError, match="YYYY-MM-DD"):
        read_required_day(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("44.0123", 44.0123), (" 87,30 ", 87.30), ("-0.5", -0.5), ("", None), (None, None)],
)
def test_read_degrees(typed, expected):
    assert read_degrees(typed) == expected


@pytest.mark.parametrize("typed", ["nan", "inf", "-Infinity", "44°N", "1e400", "abc"])
def test_degrees_that_are_not_numbers_are_refused(typed):
    with pytest.raises(ServiceError, match="decimal degrees"):
        read_degrees(typed)
