"""The demo's replay: real daily city values of Changji (aqistudy, from CNEMC, 2014-12-31 to
2017-01-31) turned into plausible minute readings for every station at any moment. Pure: standard
library only.

What is real: the city's daily means. What is made up, and deterministic: the hours of the day
(a diurnal profile per pollutant whose mean over the day is 1, so the day's mean stays the real
daily value), each station's level against the city (industrial parks higher, the control point
lower, each device a little off), and smooth noise seeded by the station's code and the minute, so
that replaying the same moment gives the same values. Today is mapped onto the same month and day of
the most recent year the data covers, so the seasons are right: a Changji winter is as polluted as
it was (PM2.5 city means above 115 µg/m³ on most days of January).

Planted incidents (`INCIDENTS`) are data: a smoke plume at an industrial-park station, a station
that falls silent and one that repeats a value. Their times are relative to the replay's start, so
they show within the first minutes (the smoke already runs in the backfilled hour).
"""

import csv
import functools
import math
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

CITY = "昌吉州"
POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
_COLUMNS = {
    "PM2.5": "pm25_ugm3",
    "PM10": "pm10_ugm3",
    "SO2": "so2_ugm3",
    "NO2": "no2_ugm3",
    "CO": "co_mgm3",
    "O3": "o3_ugm3",
}
_DECIMALS = {"CO": 3}  # CO in mg/m³; the others in whole tenths of µg/m³
_EPOCH = datetime(2000, 1, 1)


# --- the daily city values ----------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCity:
    """One city-day: the daily mean of each pollutant (µg/m³; CO mg/m³)."""

    day: date
    values: Mapping[str, float]


def load_daily(path: str, city: str = CITY) -> dict[date, DailyCity]:
    """The city's days from the aqistudy CSV (SOURCES.md 4b), by date."""
    days: dict[date, DailyCity] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["city"] != city:
                continue
            day = date.fromisoformat(row["date"])
            days[day] = DailyCity(day, {p: float(row[c]) for p, c in _COLUMNS.items()})
    return days


def map_day(day: date, days_available: Collection[date]) -> date:
    """The historical day that stands for `day`: the same month and day in the most recent year
    the data holds it; 29 February falls back to the 28th; failing both (a gap in every year),
    the available day nearest in the calendar year, the most recent on a tie."""
    if not days_available:
        raise ValueError("no days to map onto")
    years = sorted({d.year for d in days_available}, reverse=True)
    wanted = [(day.month, day.day)] + ([(2, 28)] if (day.month, day.day) == (2, 29) else [])
    for month, dom in wanted:
        for year in years:
            try:
                candidate = date(year, month, dom)
            except ValueError:  # 29 February in a common year
                continue
            if candidate in days_available:
                return candidate
    target = _day_of_year(day)

    def distance(d: date) -> tuple[int, int]:
        gap = abs(_day_of_year(d) - target)
        return min(gap, 366 - gap), -d.toordinal()

    return min(days_available, key=distance)


def _day_of_year(day: date) -> int:
    """Position in a leap year's calendar, so that 1 March is 61 in every year."""
    return (date(2000, day.month, day.day) - date(2000, 1, 1)).days


# --- the hours of the day -----------------------------------------------------------------------

# Relative levels for the 24 hours of the day in China Standard Time (Beijing time). Changji's
# solar time is about two hours behind, so the morning rush and the stoves' morning firing show
# at 09-11 and the evening's at 20-24; ozone peaks in the late afternoon (17-19) when the sun has
# had the longest on the NO2, lowest in the morning. Heating-season particulates stay high all
# night (a shallow inversion layer); SO2 has a late-morning fumigation peak.
_RAW_PROFILES: dict[str, tuple[float, ...]] = {
    # hours 0 to 12 on the first line, 13 to 23 on the second
    "PM2.5": (1.15, 1.12, 1.08, 1.02, 0.96, 0.92, 0.92, 0.96, 1.04, 1.16, 1.24, 1.20, 1.06,
              0.92, 0.80, 0.74, 0.72, 0.74, 0.82, 0.94, 1.08, 1.18, 1.22, 1.20),
    "PM10": (1.10, 1.06, 1.02, 0.98, 0.94, 0.92, 0.94, 1.00, 1.10, 1.20, 1.24, 1.18, 1.06,
             0.96, 0.88, 0.84, 0.82, 0.84, 0.90, 0.98, 1.08, 1.14, 1.16, 1.14),
    "SO2": (0.96, 0.94, 0.92, 0.90, 0.88, 0.88, 0.90, 0.94, 1.00, 1.10, 1.22, 1.28, 1.24,
            1.14, 1.04, 0.98, 0.94, 0.92, 0.94, 0.98, 1.02, 1.02, 1.00, 0.98),
    "NO2": (1.04, 0.98, 0.92, 0.86, 0.82, 0.80, 0.84, 0.94, 1.10, 1.24, 1.24, 1.10, 0.96,
            0.86, 0.80, 0.78, 0.80, 0.88, 1.00, 1.14, 1.24, 1.22, 1.16, 1.10),
    "CO": (1.12, 1.10, 1.06, 1.02, 0.98, 0.94, 0.94, 0.98, 1.06, 1.14, 1.18, 1.14, 1.04,
           0.94, 0.86, 0.82, 0.80, 0.82, 0.88, 0.96, 1.06, 1.12, 1.16, 1.14),
    "O3": (0.62, 0.56, 0.52, 0.48, 0.46, 0.44, 0.44, 0.46, 0.52, 0.64, 0.82, 1.04, 1.26,
           1.46, 1.62, 1.74, 1.80, 1.80, 1.72, 1.56, 1.32, 1.04, 0.82, 0.70),
}  # fmt: skip
PROFILES: dict[str, tuple[float, ...]] = {
    p: tuple(w * 24 / math.fsum(raw) for w in raw) for p, raw in _RAW_PROFILES.items()
}


def profile(pollutant: str, minute_of_day: float) -> float:
    """The pollutant's level at a time of day against its daily mean. The hourly levels stand at
    the middle of each hour and are joined by straight lines round the clock, so the mean over the
    day's minutes is exactly the mean of the (normalised) hourly levels: 1."""
    levels = PROFILES[pollutant]
    position = (minute_of_day - 30) / 60 % 24
    hour = int(position)
    fraction = position - hour
    return levels[hour] * (1 - fraction) + levels[(hour + 1) % 24] * fraction


# --- stations -----------------------------------------------------------------------------------

Site = Literal["park", "urban", "rural", "control"]

# Level against the city's mean, per kind of place: parks burn coal and move trucks, the streets
# have traffic, the countryside has dust and less NO2 (so more ozone), and the control point in
# the Tianshan forest (天山天池) sees clean air.
SITE_FACTORS: dict[str, dict[str, float]] = {
    "park": {"PM2.5": 1.25, "PM10": 1.35, "SO2": 1.6, "NO2": 1.3, "CO": 1.3, "O3": 0.92},
    "urban": {"PM2.5": 1.05, "PM10": 1.08, "SO2": 1.0, "NO2": 1.15, "CO": 1.05, "O3": 0.95},
    "rural": {"PM2.5": 0.9, "PM10": 1.0, "SO2": 0.8, "NO2": 0.7, "CO": 0.9, "O3": 1.08},
    "control": {"PM2.5": 0.45, "PM10": 0.5, "SO2": 0.5, "NO2": 0.35, "CO": 0.6, "O3": 1.2},
}
BIAS_SPREAD = 0.08  # each device reads up to 8 % off its place's level, for good
NOISE_SIGMA = 0.07  # slow wander of the air around a device
NOISE_KNOT_MINUTES = 15  # ... drawn every 15 minutes and joined by straight lines
JITTER = 0.015  # and a minute-to-minute flicker of ±1.5 %


@dataclass(frozen=True)
class StationProfile:
    """What the replay needs to know of a station: its code (the noise's seed) and its place."""

    code: str
    site: Site


@functools.lru_cache(maxsize=4096)
def station_bias(code: str, pollutant: str) -> float:
    """The device's own fixed offset from its place's level (1 ± BIAS_SPREAD)."""
    rng = random.Random(f"bias|{code}|{pollutant}")  # noqa: S311 - reproducible demo data
    return 1 + rng.uniform(-BIAS_SPREAD, BIAS_SPREAD)


@functools.lru_cache(maxsize=65536)
def _knot(code: str, pollutant: str, index: int) -> float:
    rng = random.Random(f"knot|{code}|{pollutant}|{index}")  # noqa: S311 - reproducible demo data
    return max(-0.25, min(0.25, rng.gauss(0, NOISE_SIGMA)))


def _minute_index(moment: datetime) -> int:
    """Minutes since 2000-01-01 of the moment's wall-clock time (its zone is not looked at)."""
    return int((moment.replace(tzinfo=None) - _EPOCH).total_seconds() // 60)


def minute_values(
    station: StationProfile, moment: datetime, city_day: DailyCity
) -> dict[str, float]:
    """The station's values for the minute `moment` (local wall-clock time) on a day whose city
    means are `city_day`: city mean × hour of day × place × device × noise."""
    minute = _minute_index(moment)
    of_day = moment.hour * 60 + moment.minute
    jitter = random.Random(f"minute|{station.code}|{minute}")  # noqa: S311 - reproducible
    knot, into = divmod(minute, NOISE_KNOT_MINUTES)
    fraction = into / NOISE_KNOT_MINUTES
    values = {}
    for pollutant in POLLUTANTS:
        wander = (
            _knot(station.code, pollutant, knot) * (1 - fraction)
            + _knot(station.code, pollutant, knot + 1) * fraction
        )
        value = (
            city_day.values[pollutant]
            * profile(pollutant, of_day + 0.5)
            * SITE_FACTORS[station.site][pollutant]
            * station_bias(station.code, pollutant)
            * (1 + wander + jitter.uniform(-JITTER, JITTER))
        )
        values[pollutant] = round(max(value, 0.0), _DECIMALS.get(pollutant, 1))
    return values


def city_at(
    moment: datetime, days: Mapping[date, DailyCity], mapped: dict[date, date] | None = None
) -> DailyCity:
    """The city means for a local moment: its mapped day's, blended with the neighbouring day's
    over the hour round midnight (23:30-00:30), so that no station jumps at midnight. `mapped`
    keeps the days already mapped (map_day looks at every day)."""
    mapped = {} if mapped is None else mapped

    def lookup(day: date) -> DailyCity:
        if day not in mapped:
            mapped[day] = map_day(day, days)
        return days[mapped[day]]

    today = lookup(moment.date())
    of_day = moment.hour * 60 + moment.minute + moment.second / 60
    if 30 <= of_day < 1410:
        return today
    if of_day < 30:
        other_day, weight = moment.date() - timedelta(days=1), (30 - of_day) / 60
    else:
        other_day, weight = moment.date() + timedelta(days=1), (of_day - 1410) / 60
    other = lookup(other_day)
    return DailyCity(
        today.day,
        {p: today.values[p] * (1 - weight) + other.values[p] * weight for p in POLLUTANTS},
    )


# --- planted incidents --------------------------------------------------------------------------

IncidentKind = Literal["smoke", "silent", "flat"]
SMOKE_PM25 = (250.0, 350.0)  # the plume's PM2.5 range, µg/m³
SMOKE_ABOVE = 150.0  # ... and at least this much above what the station would read anyway
SMOKE_PM10_RATIO = 1.3  # smoke is mostly fine particles


@dataclass(frozen=True)
class Incident:
    """Something planted at one station, from `starts_after` the replay's start (negative: it was
    already going on, and the backfill shows it) for `lasts`."""

    station_code: str
    kind: IncidentKind
    starts_after: timedelta
    lasts: timedelta

    def active(self, elapsed: timedelta) -> bool:
        return self.starts_after <= elapsed < self.starts_after + self.lasts


# The demo's incidents (alerts/demo.py places the stations; the codes are stable).
INCIDENTS: tuple[Incident, ...] = (
    # A plume at 昌吉高新区微站03: 40 minutes of it are in the backfilled hour, so the first
    # evaluation raises the level alert (IAQI > 150) and the spatial one against its neighbours.
    Incident("CJ-W003", "smoke", timedelta(minutes=-40), timedelta(minutes=60)),
    # A rural station that stopped 65 minutes before the start: silent at the first evaluation.
    Incident("CJ-W090", "silent", timedelta(minutes=-65), timedelta(hours=3)),
    # An urban station stuck on one value since the backfill's start: flat after 3 hours, i.e.
    # one hour into the run.
    Incident("CJ-W040", "flat", timedelta(hours=-2), timedelta(hours=5)),
)


def smoke_pm25(code: str, moment: datetime, normal: float) -> float:
    """The plume's PM2.5 at a minute: 250-350 µg/m³, and well above the station's normal."""
    rng = random.Random(f"smoke|{code}|{_minute_index(moment)}")  # noqa: S311 - reproducible
    low, high = SMOKE_PM25
    swirl = 0.35 * math.sin(_minute_index(moment) / 7) + rng.uniform(-0.15, 0.15)
    plume = low + (high - low) * (0.5 + swirl)
    return round(max(plume, normal + SMOKE_ABOVE), 1)


class Replay:
    """The readings of the demo's stations: city days, incidents, and the local time zone."""

    def __init__(
        self,
        days: Mapping[date, DailyCity],
        zone: tzinfo,
        incidents: Iterable[Incident] = INCIDENTS,
    ):
        if not days:
            raise ValueError("no city days to replay")
        self.days = days
        self.zone = zone
        self._mapped: dict[date, date] = {}
        self.incidents: dict[str, list[Incident]] = {}
        for incident in incidents:
            self.incidents.setdefault(incident.station_code, []).append(incident)

    def local(self, moment_utc: datetime) -> datetime:
        """Naive UTC -> local wall-clock time."""
        return moment_utc.replace(tzinfo=UTC).astimezone(self.zone)

    def normal(self, station: StationProfile, moment_utc: datetime) -> dict[str, float]:
        """The station's minute values with no incident."""
        local = self.local(moment_utc)
        return minute_values(station, local, city_at(local, self.days, self._mapped))

    def minute(
        self, station: StationProfile, moment_utc: datetime, start_utc: datetime
    ) -> dict[str, float] | None:
        """The minute starting at `moment_utc` (naive UTC) as the station sends it, incidents
        included (`start_utc`: when the replay started); None while the station is silent."""
        elapsed = moment_utc - start_utc
        for incident in self.incidents.get(station.code, ()):
            if not incident.active(elapsed):
                continue
            if incident.kind == "silent":
                return None
            if incident.kind == "flat":
                return self.normal(station, start_utc + incident.starts_after)
            values = self.normal(station, moment_utc)
            pm25 = smoke_pm25(station.code, self.local(moment_utc), values["PM2.5"])
            values["PM2.5"] = pm25
            values["PM10"] = round(max(values["PM10"], pm25 * SMOKE_PM10_RATIO), 1)
            return values
        return self.normal(station, moment_utc)

    def hour(self, station: StationProfile, hour_utc: datetime) -> dict[str, float]:
        """An hourly value (a national station's): the mean of the hour's minutes."""
        minutes = [self.normal(station, hour_utc + timedelta(minutes=m)) for m in range(60)]
        return {
            p: round(math.fsum(v[p] for v in minutes) / 60, _DECIMALS.get(p, 1)) for p in POLLUTANTS
        }
