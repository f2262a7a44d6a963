"""The typed input reader (grid/inputs.py): whatever arrives, a typed value within its bounds or
Invalid naming the field — never another exception."""

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.inputs import EARLIEST_DAY, LATEST_DAY, MAX_ID, Fields, Invalid

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
ANY = JSON | st.text(alphabet=st.characters(codec="utf-8"))


@pytest.fixture(scope="module")
def ctx(app):
    with app.test_request_context():
        yield


def read(method, value, *args, **kwargs):
    return getattr(Fields({"f": value}), method)("f", "Field", *args, **kwargs)


def outcome(method, value, *args, **kwargs):
    try:
        return read(method, value, *args, **kwargs)
    except Invalid as exc:
        assert exc.name == "f"
        assert "Field" in str(exc)  # the message names the field
        return exc


@settings(max_examples=300, deadline=None)
@given(ANY)
def test_anything_is_a_value_or_a_refusal(ctx, value):
    checks = [
        ("id", (), {}),
        ("integer", (), {"low": -5, "high": 5}),
        ("number", (), {"low": -90, "high": 90}),
        ("day", (), {}),
        ("month", (), {}),
        ("moment", (), {}),
        ("text", (), {}),
        ("text", (), {"multiline": True}),
        ("choice", (("a", "b"),), {}),
        ("flag", (), {}),
    ]
    for method, args, kwargs in checks:
        if method == "flag":
            assert isinstance(Fields({"f": value}).flag("f"), bool)
            continue
        found = outcome(method, value, *args, **kwargs)
        if isinstance(found, Invalid) or found is None or found == "":
            continue
        if method == "id":
            assert isinstance(found, int) and 1 <= found <= MAX_ID
        elif method == "integer":
            assert isinstance(found, int) and -5 <= found <= 5
        elif method == "number":
            assert math.isfinite(found) and -90 <= found <= 90
        elif method in ("day", "month"):
            assert EARLIEST_DAY <= found <= LATEST_DAY
        elif method == "text":
            assert len(found) <= (5000 if kwargs else 200)
            assert all(ch.isprintable() or ch in "\n\t" for ch in found if ord(ch) < 0xA0)
            assert kwargs or "\n" not in found
        elif method == "choice":
            assert found in ("a", "b")


@given(st.integers())
def test_ids_within_the_database_integer(ctx, n):
    found = outcome("id", str(n))
    if 1 <= n <= MAX_ID:
        assert found == n
    else:
        assert isinstance(found, Invalid)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_integers_within_bounds(ctx, n):
    found = outcome("integer", str(n), low=-1000, high=1000)
    assert found == n if -1000 <= n <= 1000 else isinstance(found, Invalid)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_numbers_are_finite_and_within_bounds(ctx, x):
    found = outcome("number", repr(x), low=-180, high=180)
    if math.isfinite(x) and -180 <= x <= 180:
        assert found == x
    else:
        assert isinstance(found, Invalid)


@given(st.dates())
def test_days_within_their_window(ctx, day):
    found = outcome("day", day.isoformat())
    if EARLIEST_DAY <= day <= LATEST_DAY and len(day.isoformat()) == 10:
        assert found == day
    else:
        assert isinstance(found, Invalid)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_text_keeps_what_can_be_typed_and_refuses_the_rest(ctx, value):
    found = outcome("text", value, max_length=100)
    trimmed = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if isinstance(found, Invalid):
        assert (
            len(trimmed) > 100
            or "\n" in trimmed
            or any(not ch.isprintable() for ch in trimmed if ord(ch) < 0xA0)
            or any(0xD800 <= ord(ch) <= 0xDFFF for ch in trimmed)
        )
    else:
        assert len(found) <= 100


def test_wrong_json_types_are_named(ctx):
    for value in ({"a": 1}, [1, 2], True):
        assert isinstance(outcome("text", value), Invalid)
        assert isinstance(outcome("number", value, low=0, high=1), Invalid)
        assert isinstance(outcome("id", value), Invalid)
    assert read("number", 12.5, low=0, high=20) == 12.5  # a JSON number is a number
    assert read("id", 7) == 7


def test_a_moment_pushed_past_year_one_by_its_offset_is_refused(ctx):
    assert isinstance(outcome("moment", "0001-01-01T00:00:00+14:00"), Invalid)
    assert isinstance(outcome("moment", "9999-12-31T23:59:59-14:00"), Invalid)
    assert read("moment", "2026-11-30T08:00:00+08:00").year == 2026


def test_required_and_defaults(ctx):
    assert read("day", "", default=date(2026, 1, 1)) == date(2026, 1, 1)
    assert isinstance(outcome("day", "", required=True), Invalid)
    assert read("text", "  a  ") == "a"
    assert read("text", "a\r\nb", multiline=True) == "a\nb"
