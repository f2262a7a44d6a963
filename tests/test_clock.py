"""Placing items in time without trusting the phone's clock (issue 3; sync/clock.py)."""

from datetime import datetime, timedelta

import pytest

from sync.clock import MAX_SKEW, Stamp, place

ARRIVED = datetime(2026, 11, 22, 8, 0, 0)  # server time (UTC) when the upload arrived
EPOCH = datetime(1970, 1, 1)


def ms(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds() * 1000)


@pytest.mark.parametrize(
    ("device_off", "event_ago", "same_boot", "basis", "skewed"),
    [
        (timedelta(0), timedelta(minutes=30), True, "elapsed", False),
        (timedelta(hours=3), timedelta(minutes=30), True, "elapsed", True),  # clock 3 h fast
        (-timedelta(days=400), timedelta(minutes=30), True, "elapsed", True),  # clock years off
        (timedelta(minutes=4), timedelta(minutes=30), True, "elapsed", False),  # within 5 minutes
        (timedelta(minutes=6), timedelta(hours=5), False, "device", True),  # queued, app restarted
        (timedelta(0), timedelta(hours=5), False, "device", False),
    ],
)
def test_place(device_off, event_ago, same_boot, basis, skewed):
    real_event = ARRIVED - event_ago
    sent = Stamp(ms(ARRIVED + device_off), elapsed_ms=10_000_000.0, boot="b2")
    event = Stamp(
        ms(real_event + device_off),
        elapsed_ms=10_000_000.0 - event_ago.total_seconds() * 1000,
        boot="b2" if same_boot else "b1",
    )
    timing = place(event, sent, ARRIVED)
    assert timing.basis == basis
    assert timing.skewed is skewed
    assert abs((timing.at - real_event).total_seconds()) < 0.01  # right despite the clock
    assert timing.offset_s == pytest.approx(device_off.total_seconds(), abs=0.01)


def test_clock_changed_during_the_session_does_not_matter():
    """The user sets the phone's clock back an hour between the event and sending."""
    real_event = ARRIVED - timedelta(minutes=10)
    event = Stamp(ms(real_event), 1000.0, "b")
    sent = Stamp(ms(ARRIVED - timedelta(hours=1)), 1000.0 + 600_000, "b")
    timing = place(event, sent, ARRIVED)
    assert timing.basis == "elapsed" and timing.skewed
    assert abs((timing.at - real_event).total_seconds()) < 0.01


def test_never_in_the_future():
    event = Stamp(ms(ARRIVED + timedelta(hours=2)), -1, "old")  # a bogus device time
    sent = Stamp(ms(ARRIVED), 5.0, "new")
    assert place(event, sent, ARRIVED).at == ARRIVED


def test_threshold_is_five_minutes():
    assert MAX_SKEW == timedelta(minutes=5)
