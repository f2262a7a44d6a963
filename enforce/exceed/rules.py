"""The exceedance rules (RULES §8, seed 000; STANDARDS.md, HJ 212): numbers in, decisions out.

- An hour's value of a pollutant at a monitoring point is the hour packet's (CN 2061) when the
  device sent one, used as sent with its flag: it is the device's own hourly average, the one
  the CEMS standards make the compliance value. Otherwise it is computed from the minute
  values (CN 2051) of the hour: the average of its N (normal) minutes, which needs at least
  `min_valid_minutes` of them.
- That minimum is a project parameter (EXCEED_MIN_VALID_MINUTES, default 45): no document of
  the project fixes it; 45 of 60 minutes is the validity rule for an hourly average in CEMS
  practice (HJ 75-2017 / HJ 76-2017, data validity: an hour needs at least 45 valid minutes).
- Only N data counts as a valid measurement (HJ 212-2017 data flags). An hour whose value is
  over the limit but whose data carry another flag (maintenance M, calibration C, fault D,
  stopped F, ...) or too few valid minutes is not an exceedance: it is listed as invalid data,
  with the flag as its reason.
- An exceedance is an hour whose valid average is over (strictly above) the limit in force on
  the hour's local day: the limit with the latest `valid_from` on or before that day.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# STANDARDS.md: HJ 212 data flags; only N is a valid measurement.
FLAGS = ("N", "F", "M", "S", "D", "C", "T", "B")
FLAG_NAMES = {  # the flags' names as the daily report prints them
    "N": "正常",
    "F": "停运",
    "M": "维护",
    "S": "手工输入",
    "D": "故障",
    "C": "校准",
    "T": "超测定上限",
    "B": "通讯异常",
}
# A project parameter (HJ 75-2017 / HJ 76-2017 practice): valid minutes an hourly average needs.
MIN_VALID_MINUTES = 45


@dataclass(frozen=True)
class Pollutant:
    code: str  # HJ 212-2017 annex B code
    name: str  # as the daily report prints it
    unit: str  # the concentration unit of emission limits
    st: str  # the system the code belongs to: "31" air source, "32" water source


# HJ 212-2017 annex B: the pollutants with concentration limits in emission permits.
POLLUTANTS: dict[str, Pollutant] = {
    p.code: p
    for p in (
        Pollutant("a21026", "二氧化硫", "mg/m³", "31"),
        Pollutant("a21002", "氮氧化物", "mg/m³", "31"),
        Pollutant("a34013", "颗粒物（烟尘）", "mg/m³", "31"),
        Pollutant("a21005", "一氧化碳", "mg/m³", "31"),
        Pollutant("a21001", "氨", "mg/m³", "31"),
        Pollutant("a24088", "非甲烷总烃", "mg/m³", "31"),
        Pollutant("w01018", "化学需氧量", "mg/L", "32"),
        Pollutant("w21003", "氨氮", "mg/L", "32"),
        Pollutant("w21011", "总磷", "mg/L", "32"),
        Pollutant("w21001", "总氮", "mg/L", "32"),
    )
}


@dataclass(frozen=True)
class Sample:
    """One value as stored: the period's start (UTC, naive), the value and its flag."""

    at: datetime
    value: float
    flag: str = "N"


@dataclass(frozen=True)
class Limit:
    value: float
    valid_from: date
    unit: str = ""
    standard: str = ""


@dataclass(frozen=True)
class HourValue:
    """An hour's value of one pollutant: `minutes` is the count of valid (N) minutes it was
    averaged from, None for an hour packet; `flag` is N for valid data, else the flag (for an
    hour from minutes: the most frequent flag other than N), and `reason` says why it is
    invalid."""

    hour: datetime
    average: float
    flag: str
    minutes: int | None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Finding:
    """An hour over its limit: valid (an exceedance) or invalid data, with the reason."""

    hour: HourValue
    limit: Limit

    @property
    def valid(self) -> bool:
        return self.hour.valid


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def flag_reason(flag: str) -> str:
    """The reason an hour with this flag is invalid data, as the report prints it."""
    return f"数据标记{flag}（{FLAG_NAMES.get(flag, '未知')}）"


def too_few_reason(valid: int, needed: int) -> str:
    return f"有效分钟数不足（{valid}/{needed}）"


def _round(value: float) -> float:
    return round(value, 4)


def from_packet(sample: Sample) -> HourValue:
    """An hour packet's value, used as sent with its flag."""
    reason = None if sample.flag == "N" else flag_reason(sample.flag)
    return HourValue(hour_start(sample.at), sample.value, sample.flag, None, reason)


def from_minutes(minutes: Sequence[Sample], min_valid: int = MIN_VALID_MINUTES) -> HourValue | None:
    """The hour's value from its minute values (all of one hour): the average of the N minutes
    when there are at least `min_valid` of them; else the average of every minute, invalid,
    with the most frequent other flag as reason (too few valid minutes when all are N). None
    without minutes."""
    if not minutes:
        return None
    hour = hour_start(minutes[0].at)
    valid = [m.value for m in minutes if m.flag == "N"]
    if len(valid) >= min_valid:
        return HourValue(hour, _round(sum(valid) / len(valid)), "N", len(valid))
    average = _round(sum(m.value for m in minutes) / len(minutes))
    others = Counter(m.flag for m in minutes if m.flag != "N")
    if not others:
        return HourValue(hour, average, "N", len(valid), too_few_reason(len(valid), min_valid))
    # The most frequent flag; equal counts: the first in FLAGS' order (F before M before ...).
    flag = min(others, key=lambda f: (-others[f], FLAGS.index(f) if f in FLAGS else 99))
    return HourValue(hour, average, flag, len(valid), flag_reason(flag))


@dataclass(frozen=True)
class Tally:
    """The minutes of one flag in an hour: how many, and the sum of their values."""

    count: int
    total: float


def tally(minutes: Iterable[Sample]) -> dict[str, Tally]:
    """Per flag, the count and sum of the minutes (summed in their order, as `from_minutes`)."""
    counts: Counter[str] = Counter()
    totals: dict[str, float] = {}
    for m in minutes:
        counts[m.flag] += 1
        totals[m.flag] = totals.get(m.flag, 0) + m.value
    return {flag: Tally(counts[flag], totals[flag]) for flag in counts}


def from_tallies(
    hour: datetime, tallies: Mapping[str, Tally], min_valid: int = MIN_VALID_MINUTES
) -> HourValue | None:
    """The hour's value from its minutes counted and summed per flag (by the database): the
    same as `from_minutes` (same averages, rounding, flag and reason). The average of every
    minute of an invalid hour is the sum of the flags' sums over the count of all minutes; its
    additions come in another order than `from_minutes`', so it may differ in the last bits
    before rounding to 4 decimals. None without minutes."""
    tallies = {flag: t for flag, t in tallies.items() if t.count > 0}
    if not tallies:
        return None
    valid = tallies.get("N", Tally(0, 0.0))
    if valid.count >= min_valid:
        return HourValue(hour, _round(valid.total / valid.count), "N", valid.count)
    count = sum(t.count for t in tallies.values())
    average = _round(sum(t.total for t in tallies.values()) / count)
    others = {flag: t.count for flag, t in tallies.items() if flag != "N"}
    if not others:
        return HourValue(hour, average, "N", valid.count, too_few_reason(valid.count, min_valid))
    # The most frequent flag; equal counts: the first in FLAGS' order (F before M before ...).
    flag = min(others, key=lambda f: (-others[f], FLAGS.index(f) if f in FLAGS else 99))
    return HourValue(hour, average, flag, valid.count, flag_reason(flag))


def hours_from_tallies(
    minute_tallies: Mapping[datetime, Mapping[str, Tally]],
    hour_values: Iterable[Sample],
    min_valid: int = MIN_VALID_MINUTES,
) -> list[HourValue]:
    """`hours` from the minutes counted and summed per hour start and flag: each hour's value,
    in time order, the hour packet's when there is one."""
    result = {hour_start(s.at): from_packet(s) for s in hour_values}
    for hour, tallies in minute_tallies.items():
        if hour not in result:
            value = from_tallies(hour, tallies, min_valid)
            if value is not None:
                result[hour] = value
    return [result[hour] for hour in sorted(result)]


def hours(
    minute_values: Iterable[Sample],
    hour_values: Iterable[Sample],
    min_valid: int = MIN_VALID_MINUTES,
) -> list[HourValue]:
    """Each hour's value of one pollutant at one point, in time order: the hour packet's when
    there is one, else from the hour's minutes."""
    by_hour: dict[datetime, list[Sample]] = {}
    for sample in minute_values:
        by_hour.setdefault(hour_start(sample.at), []).append(sample)
    result = {hour_start(s.at): from_packet(s) for s in hour_values}
    for hour, samples in by_hour.items():
        if hour not in result:
            value = from_minutes(samples, min_valid)
            if value is not None:
                result[hour] = value
    return [result[hour] for hour in sorted(result)]


def limit_on(limits: Iterable[Limit], day: date) -> Limit | None:
    """The limit in force on `day`: the latest that started on or before it."""
    in_force = [limit for limit in limits if limit.valid_from <= day]
    return max(in_force, key=lambda limit: limit.valid_from, default=None)


def judge(value: HourValue, limit: Limit | None) -> Finding | None:
    """A finding when the hour's average is over the limit (valid or invalid data); None when
    it is not, or when no limit is in force."""
    if limit is None or value.average <= limit.value:
        return None
    return Finding(value, limit)


def local_day(hour: datetime, zone: ZoneInfo) -> date:
    """The local date of an hour given in naive UTC."""
    return hour.replace(tzinfo=UTC).astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day `day` as naive UTC [start, end)."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return (
        start.astimezone(UTC).replace(tzinfo=None),
        end.astimezone(UTC).replace(tzinfo=None),
    )


def findings(
    minute_values: Iterable[Sample],
    hour_values: Iterable[Sample],
    limits: Sequence[Limit],
    zone: ZoneInfo,
    min_valid: int = MIN_VALID_MINUTES,
) -> list[Finding]:
    """Every hour of one pollutant at one point over the limit in force on its local day."""
    return over_limits(hours(minute_values, hour_values, min_valid), limits, zone)


def over_limits(
    values: Iterable[HourValue], limits: Sequence[Limit], zone: ZoneInfo
) -> list[Finding]:
    """The hours over the limit in force on their local day."""
    found = []
    for value in values:
        finding = judge(value, limit_on(limits, local_day(value.hour, zone)))
        if finding is not None:
            found.append(finding)
    return found
