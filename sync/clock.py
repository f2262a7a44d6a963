"""When did it happen? The phone's clock is not trusted (DESIGN "Field conditions"). Pure.

Every queued item carries the device's clock reading, the milliseconds elapsed since the app
started (a monotonic counter) and the id of that app start. Every upload says the same at the
moment of sending, and the server notes when it arrived. From these:

- an item from the same app start as its upload is placed by the monotonic counter:
  arrival - (elapsed at sending - elapsed at the event); a wrong or changed device clock does
  not matter;
- an item from an earlier app start (queued, the app closed, reopened later) can only be placed
  by its device time, corrected by the device clock's offset measured at sending;
- a device clock more than 5 minutes off the server's is flagged (issue 3).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_SKEW = timedelta(minutes=5)  # issue 3: a device clock more than 5 minutes off is flagged


@dataclass(frozen=True)
class Stamp:
    """A reading of the phone's clocks."""

    device_ms: int  # Date.now(): milliseconds since the epoch by the device clock
    elapsed_ms: float  # performance.now(): milliseconds since this app start
    boot: str  # an id of this app start


@dataclass(frozen=True)
class Timing:
    at: datetime  # naive UTC: when it happened, by the server's reckoning
    basis: str  # "elapsed" (monotonic counter) or "device" (device clock, corrected)
    offset_s: float  # device clock minus server clock at sending, seconds
    skewed: bool  # |offset| > MAX_SKEW


def place(event: Stamp, sent: Stamp, received_at: datetime) -> Timing:
    """The server time of `event`, from the stamps of the event and of its upload."""
    offset_s = sent.device_ms / 1000.0 - _epoch_seconds(received_at)
    skewed = abs(offset_s) > MAX_SKEW.total_seconds()
    if event.boot == sent.boot and 0 <= event.elapsed_ms <= sent.elapsed_ms:
        at = received_at - timedelta(milliseconds=sent.elapsed_ms - event.elapsed_ms)
        basis = "elapsed"
    else:
        at = _from_epoch_ms(event.device_ms) - timedelta(seconds=offset_s)
        basis = "device"
    return Timing(min(at, received_at), basis, offset_s, skewed)


def _epoch_seconds(naive_utc: datetime) -> float:
    return (naive_utc - _EPOCH).total_seconds()


def _from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


_EPOCH = datetime(1970, 1, 1)
