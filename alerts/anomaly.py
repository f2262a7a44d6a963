"""Micro-station anomaly rules (STANDARDS.md "Micro-station anomaly rules"). Pure.

No national standard fixes these rules: normative are only the HJ 633 levels (the caller computes
the IAQI, alerts/aqi.py) and the HJ 212 data flags; every number here is a project parameter with
a default from the published ADF rule set (Chen et al., IEEE IoT Journal 5(2), 2018), overridable
through `Rules.from_mapping`.

Each rule takes plain numbers and returns a `Finding` or None. A finding is either an *alert*
(someone is sent to look: level, spike, spatial) or a *health* item for the county's list of
stations (silent, flat, flag, suspect): a broken device is repaired, not patrolled. Messages are
English templates marked with `N_` and filled from `params` after translation, by the caller.

Comparisons are strict: a value exactly at its threshold does not fire. Differences of
concentrations are compared with a margin of 1e-9, so that a reading exactly at a threshold
written in decimals (20 + 6.6 = 26.6) does not fire through binary rounding.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal

from i18n import N_

PM25 = "PM2.5"
CO = "CO"  # the one pollutant in mg/m³: its spatial floor has its own parameter
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
_EPS = 1e-9

# HJ 212-2017 data flags: only N data counts as a valid measurement.
FLAGS: dict[str, str] = {
    "N": N_("normal"),
    "F": N_("stopped"),
    "M": N_("maintenance"),
    "S": N_("manual value"),
    "D": N_("fault"),
    "C": N_("calibration"),
    "T": N_("above the measuring limit"),
    "B": N_("communication failure"),
}

# One whole sentence per flag, so that a translation never splices a translated word into an
# untranslated template.
_FLAG_MESSAGES: dict[str, str] = {
    "N": N_("%(pollutant)s data flagged N (normal): %(count)d of %(total)d values"),
    "F": N_("%(pollutant)s data flagged F (stopped): %(count)d of %(total)d values"),
    "M": N_("%(pollutant)s data flagged M (maintenance): %(count)d of %(total)d values"),
    "S": N_("%(pollutant)s data flagged S (manual value): %(count)d of %(total)d values"),
    "D": N_("%(pollutant)s data flagged D (fault): %(count)d of %(total)d values"),
    "C": N_("%(pollutant)s data flagged C (calibration): %(count)d of %(total)d values"),
    "T": N_(
        "%(pollutant)s data flagged T (above the measuring limit): %(count)d of %(total)d values"
    ),
    "B": N_("%(pollutant)s data flagged B (communication failure): %(count)d of %(total)d values"),
}
_FLAG_UNKNOWN = N_(
    "%(pollutant)s data flagged %(flag)s (an unknown flag): %(count)d of %(total)d values"
)

# ADF's PM2.5 table: (upper bound of the neighbour mean, exclusive; allowed excess), µg/m³.
# The last band has no upper bound.
ADF_PM25_BANDS: tuple[tuple[float | None, float], ...] = (
    (24.0, 6.6),
    (36.0, 9.35),
    (42.0, 13.5),
    (48.0, 17.0),
    (54.0, 23.0),
    (59.0, 27.5),
    (65.0, 33.5),
    (71.0, 40.5),
    (None, 91.5),
)

Rule = Literal["level", "spike", "spatial", "silent", "flat", "flag", "suspect"]
Kind = Literal["alert", "health"]


@dataclass(frozen=True)
class Rules:
    """The rules' parameters; every one can be set in configuration (`from_mapping`)."""

    # HJ 633: alarm when the hourly IAQI is above 150, i.e. level 4 (中度污染) and worse.
    level_threshold: int = 150
    # ADF temporal rule: previous value above 20 and a rise of more than 1/5 of it.
    spike_min_previous: float = 20.0
    spike_ratio: float = 0.2
    spike_pollutants: tuple[str, ...] = ("PM2.5", "PM10")
    # ADF neighbourhood: stations within 3 km, at least 2 of them.
    neighbour_radius_km: float = 3.0
    neighbour_min: int = 2
    # ADF spatial rule for PM2.5, keyed on the neighbour mean (see spatial_threshold).
    spatial_bands: tuple[tuple[float | None, float], ...] = ADF_PM25_BANDS
    # Other pollutants (the project's choice, not ADF's): an excess above half the neighbour
    # mean, and at least 10 µg/m³ (CO, in mg/m³: at least 1 mg/m³).
    spatial_ratio: float = 0.5
    spatial_floor: float = 10.0
    spatial_floor_co: float = 1.0
    # Station health.
    silent_after_minutes: int = 60
    flat_hours: int = 3
    flat_tolerance: float = 0.0
    # ADF suspect device: weighted anomaly ratios over 1, 7 and 14 days.
    suspect_weights: tuple[float, float, float] = (0.2, 0.3, 0.5)
    suspect_ratio: float = 0.5
    valid_flags: tuple[str, ...] = ("N",)

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool]] = [
            ("level_threshold", 0 <= self.level_threshold <= 500),
            ("spike_min_previous", self.spike_min_previous >= 0),
            ("spike_ratio", self.spike_ratio > 0),
            ("neighbour_radius_km", self.neighbour_radius_km > 0),
            ("neighbour_min", self.neighbour_min >= 1),
            ("spatial_bands", _bands_ok(self.spatial_bands)),
            ("spatial_ratio", self.spatial_ratio > 0),
            ("spatial_floor", self.spatial_floor >= 0),
            ("spatial_floor_co", self.spatial_floor_co >= 0),
            ("silent_after_minutes", self.silent_after_minutes > 0),
            ("flat_hours", self.flat_hours >= 1),
            ("flat_tolerance", self.flat_tolerance >= 0),
            (
                "suspect_weights",
                len(self.suspect_weights) == 3
                and all(w >= 0 for w in self.suspect_weights)
                and abs(math.fsum(self.suspect_weights) - 1) < _EPS,
            ),
            ("suspect_ratio", 0 <= self.suspect_ratio <= 1),
            ("valid_flags", bool(self.valid_flags) and set(self.valid_flags) <= set(FLAGS)),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"anomaly rules: bad value for {name}: {getattr(self, name)!r}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> "Rules":
        """The defaults, with the given keys replaced; lists are accepted for tuples (JSON).

        Raises ValueError naming an unknown key, or a key whose value has the wrong type or is
        out of range."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key not in known:
                raise ValueError(f"anomaly rules: unknown key {key!r}")
            try:
                values[key] = _CONVERT[key](value)
            except (TypeError, ValueError) as error:
                raise ValueError(f"anomaly rules: bad value for {key}: {value!r}") from error
        return cls(**values)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError
    return float(value)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError
    return tuple(value)


def _floats(value: object) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError
    return tuple(_float(v) for v in value)


def _bands(value: object) -> tuple[tuple[float | None, float], ...]:
    if not isinstance(value, list | tuple):
        raise TypeError
    bands: list[tuple[float | None, float]] = []
    for band in value:
        if not isinstance(band, list | tuple) or len(band) != 2:
            raise TypeError
        upper, excess = band
        bands.append((None if upper is None else _float(upper), _float(excess)))
    return tuple(bands)


def _bands_ok(bands: tuple[tuple[float | None, float], ...]) -> bool:
    """Rising upper bounds, the last one None (open-ended), positive excesses."""
    if not bands or bands[-1][0] is not None:
        return False
    uppers = [upper for upper, _ in bands[:-1]]
    if any(upper is None for upper in uppers):
        return False
    bounded = [float(upper) for upper in uppers if upper is not None]
    rising = all(a < b for a, b in zip(bounded, bounded[1:], strict=False))
    return rising and all(excess > 0 for _, excess in bands)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "level_threshold": _int,
    "spike_min_previous": _float,
    "spike_ratio": _float,
    "spike_pollutants": _strings,
    "neighbour_radius_km": _float,
    "neighbour_min": _int,
    "spatial_bands": _bands,
    "spatial_ratio": _float,
    "spatial_floor": _float,
    "spatial_floor_co": _float,
    "silent_after_minutes": _int,
    "flat_hours": _int,
    "flat_tolerance": _float,
    "suspect_weights": _floats,
    "suspect_ratio": _float,
    "valid_flags": _strings,
}

DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class Sample:
    """One reading of one pollutant; `flag` is its HJ 212 data flag."""

    at: datetime
    pollutant: str
    value: float
    flag: str = "N"


@dataclass(frozen=True)
class Neighbour:
    """Another station, with its reading of the pollutant concerned (None: none to use)."""

    code: str
    lat: float
    lon: float
    value: float | None


@dataclass(frozen=True)
class Finding:
    """What a rule found. `value` is what the rule measured and `threshold` what it was compared
    with (an IAQI for "level", minutes for "silent", the spread of the values for "flat", a score
    for "suspect", concentrations otherwise); `message % params` is the English text, to be
    translated before it is filled."""

    rule: Rule
    kind: Kind
    pollutant: str | None
    value: float | None
    threshold: float | None
    message: str
    params: dict[str, Any]


# --- alerts ---------------------------------------------------------------------------------


def level(
    pollutant: str, value: float, iaqi: int | None, rules: Rules = DEFAULT_RULES
) -> Finding | None:
    """An alert when the IAQI of `value` is above `level_threshold`.

    The IAQI comes from the caller (alerts/aqi.py, with the edition and averaging it chose).
    None (undefined, e.g. above the last breakpoint) gives no finding: the caller decides what an
    off-the-table value means and passes a number for it."""
    if iaqi is None or iaqi <= rules.level_threshold:
        return None
    return Finding(
        "level",
        "alert",
        pollutant,
        iaqi,
        rules.level_threshold,
        N_("%(pollutant)s at %(concentration)g: IAQI %(iaqi)d, above %(threshold)d"),
        {
            "pollutant": pollutant,
            "concentration": value,
            "iaqi": iaqi,
            "threshold": rules.level_threshold,
        },
    )


def spike(
    pollutant: str, previous: float | None, value: float, rules: Rules = DEFAULT_RULES
) -> Finding | None:
    """An alert (ADF temporal rule) when `previous` > spike_min_previous and `value` rose by
    more than spike_ratio of it; only for spike_pollutants. A fall is not an alert: there is no
    source to go and find."""
    if pollutant not in rules.spike_pollutants or previous is None:
        return None
    if previous <= rules.spike_min_previous:
        return None
    allowed = rules.spike_ratio * previous
    if value - previous <= allowed + _EPS:
        return None
    return Finding(
        "spike",
        "alert",
        pollutant,
        value,
        previous + allowed,
        N_(
            "%(pollutant)s rose from %(previous)g to %(value)g, more than %(percent)g%% in one step"
        ),
        {
            "pollutant": pollutant,
            "previous": previous,
            "value": value,
            "percent": rules.spike_ratio * 100,
        },
    )


def spatial_threshold(pollutant: str, mean: float, rules: Rules = DEFAULT_RULES) -> float:
    """How far above the neighbour mean a reading may be. PM2.5: ADF's band for the neighbour
    mean (bands are keyed on the mean, as the neighbourhood's level of pollution; an upper bound
    is exclusive: a mean of 24 is in the second band). Others: spatial_ratio of the mean, at
    least spatial_floor (spatial_floor_co for CO)."""
    if pollutant == PM25:
        for upper, excess in rules.spatial_bands:
            if upper is None or mean < upper:
                return excess
        raise AssertionError("the last band is open-ended")  # Rules checks it
    floor = rules.spatial_floor_co if pollutant == CO else rules.spatial_floor
    return max(floor, rules.spatial_ratio * mean)


def spatial(
    pollutant: str, value: float, neighbours: list[float], rules: Rules = DEFAULT_RULES
) -> Finding | None:
    """An alert (ADF spatial rule) when `value` exceeds the mean of the neighbours' readings by
    more than spatial_threshold. `neighbours` are the readings of the stations within
    neighbour_radius_km (see neighbours_within); fewer than neighbour_min give no finding. A
    reading below its neighbours is not an alert."""
    if len(neighbours) < rules.neighbour_min:
        return None
    mean = math.fsum(neighbours) / len(neighbours)
    allowed = spatial_threshold(pollutant, mean, rules)
    if value - mean <= allowed + _EPS:
        return None
    return Finding(
        "spatial",
        "alert",
        pollutant,
        value,
        mean + allowed,
        N_(
            "%(pollutant)s at %(value)g is %(excess)g above the mean of %(count)d neighbours"
            " (%(mean)g); the limit is %(allowed)g"
        ),
        {
            "pollutant": pollutant,
            "value": value,
            "excess": value - mean,
            "count": len(neighbours),
            "mean": mean,
            "allowed": allowed,
        },
    )


# --- station health -------------------------------------------------------------------------


def silent(
    last_seen: datetime | None, now: datetime, rules: Rules = DEFAULT_RULES
) -> Finding | None:
    """A health item when nothing has arrived for more than silent_after_minutes (exactly that
    long is not yet silent), or nothing ever (last_seen None: value None)."""
    if last_seen is None:
        return Finding(
            "silent",
            "health",
            None,
            None,
            rules.silent_after_minutes,
            N_("The station has never sent data"),
            {},
        )
    minutes = (now - last_seen) / timedelta(minutes=1)
    if minutes <= rules.silent_after_minutes:
        return None
    return Finding(
        "silent",
        "health",
        None,
        minutes,
        rules.silent_after_minutes,
        N_("No data for %(minutes)d minutes (the limit is %(threshold)d)"),
        {"minutes": int(minutes), "threshold": rules.silent_after_minutes},
    )


def flat(samples: list[Sample], now: datetime, rules: Rules = DEFAULT_RULES) -> Finding | None:
    """A health item when one pollutant's value has stayed constant for flat_hours.

    `samples` are one pollutant's readings (any order). Only valid ones (valid_flags) taken at or
    before `now` count. From the latest backwards, the run of values that all stay within
    flat_tolerance of each other (max - min) must reach back at least flat_hours from the latest
    and hold at least flat_hours + 1 values: hourly data needs a value at each hour, both ends
    included (09:00, 10:00, 11:00, 12:00 for 3 hours), so that two equal values with a gap
    between them are not a flat line. The latest value need not be recent: `silent` says that."""
    valid = sorted(
        (s for s in samples if s.flag in rules.valid_flags and s.at <= now), key=lambda s: s.at
    )
    if not valid:
        return None
    latest = valid[-1]
    low = high = latest.value
    start = latest
    count = 0
    for sample in reversed(valid):
        low, high = min(low, sample.value), max(high, sample.value)
        if high - low > rules.flat_tolerance + _EPS:
            break
        start, count = sample, count + 1
    hours = (latest.at - start.at) / timedelta(hours=1)
    if hours < rules.flat_hours or count < rules.flat_hours + 1:
        return None
    run = [s.value for s in valid[-count:]]
    return Finding(
        "flat",
        "health",
        latest.pollutant,
        max(run) - min(run),
        rules.flat_tolerance,
        N_("%(pollutant)s has stayed at %(value)g for %(hours)g hours (%(count)d values)"),
        {"pollutant": latest.pollutant, "value": latest.value, "hours": hours, "count": count},
    )


def flag(samples: list[Sample], rules: Rules = DEFAULT_RULES) -> Finding | None:
    """A health item when a sample carries a flag outside valid_flags (HJ 212: only N data is a
    valid measurement). Give it one pollutant's samples (evaluate gives the latest one); the
    finding names the flag of the latest such sample, its meaning (in the message) and how many
    of the samples carry it. value: that count; threshold: None."""
    bad = [s for s in samples if s.flag not in rules.valid_flags]
    if not bad:
        return None
    latest = max(bad, key=lambda s: s.at)
    count = sum(1 for s in bad if s.flag == latest.flag)
    return Finding(
        "flag",
        "health",
        latest.pollutant,
        count,
        None,
        _FLAG_MESSAGES.get(latest.flag, _FLAG_UNKNOWN),
        {
            "pollutant": latest.pollutant,
            "flag": latest.flag,
            "count": count,
            "total": len(samples),
        },
    )


# --- suspect devices (ADF) ------------------------------------------------------------------


def anomaly_ratio(flags: list[bool]) -> float:
    """The share of readings found anomalous (True) over a period; no readings: 0.0 (no
    evidence against the device; `silent` covers a station that sends nothing)."""
    return sum(flags) / len(flags) if flags else 0.0


def suspect_score(
    ratio_1d: float, ratio_7d: float, ratio_14d: float, rules: Rules = DEFAULT_RULES
) -> float:
    """ADF's weighted anomaly ratio over 1, 7 and 14 days (weights sum to 1: a ratio too)."""
    ratios = (ratio_1d, ratio_7d, ratio_14d)
    if not all(0 <= r <= 1 for r in ratios):
        raise ValueError(f"anomaly ratios must be between 0 and 1: {ratios!r}")
    return math.fsum(w * r for w, r in zip(rules.suspect_weights, ratios, strict=True))


def is_suspect(
    ratio_1d: float, ratio_7d: float, ratio_14d: float, rules: Rules = DEFAULT_RULES
) -> bool:
    """A device whose score is above suspect_ratio: its readings are not to be trusted."""
    return suspect_score(ratio_1d, ratio_7d, ratio_14d, rules) > rules.suspect_ratio + _EPS


def suspect(
    ratio_1d: float, ratio_7d: float, ratio_14d: float, rules: Rules = DEFAULT_RULES
) -> Finding | None:
    """A health item for a suspect device (is_suspect): it is checked, nobody is sent out."""
    if not is_suspect(ratio_1d, ratio_7d, ratio_14d, rules):
        return None
    score = suspect_score(ratio_1d, ratio_7d, ratio_14d, rules)
    return Finding(
        "suspect",
        "health",
        None,
        score,
        rules.suspect_ratio,
        N_("Suspect device: anomaly score %(score)g, above %(threshold)g"),
        {"score": round(score, 3), "threshold": rules.suspect_ratio},
    )


# --- neighbours -----------------------------------------------------------------------------


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the haversine formula on a sphere of EARTH_RADIUS_KM."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def neighbours_within(
    lat: float, lon: float, others: list[Neighbour], radius_km: float
) -> list[Neighbour]:
    """The stations at most radius_km away, in the given order. It filters by distance only:
    leave the station itself out of `others`, and drop readings of None before `spatial`."""
    return [n for n in others if distance_km(lat, lon, n.lat, n.lon) <= radius_km]


# --- one station at one moment --------------------------------------------------------------


def evaluate(
    now: datetime,
    latest: list[Sample],
    previous: dict[str, float],
    history: list[Sample],
    neighbours: dict[str, list[float]],
    last_seen: datetime | None,
    rules: Rules = DEFAULT_RULES,
    iaqi_of: Callable[[str, float], int | None] | None = None,
    *,
    ratios: tuple[float, float, float] | None = None,
) -> list[Finding]:
    """Every rule for one station at `now`: health items first, then alerts.

    latest: the newest sample of each pollutant (of several for one pollutant, the newest
    counts); previous: each pollutant's valid value before it (spike); history: the recent
    samples (at least flat_hours; latest ones may be repeated: they are merged by time);
    neighbours: each pollutant's readings at the stations within neighbour_radius_km; iaqi_of:
    the IAQI of a pollutant's value (no level rule without it); ratios: the anomaly ratios over
    1, 7 and 14 days (no suspect rule without them).

    People are not sent to a broken device, so health suppresses alerts:
    - silent, or suspect: the station's alerts, all pollutants;
    - a latest sample flagged other than valid_flags (flag), or a flat line (flat): that
      pollutant's alerts.
    Health items are all reported, whatever else was found. Several alerts may be found for
    one pollutant (level, spike, spatial, in that order): the caller merges them if it wishes.
    """
    health: list[Finding] = []
    alerts: list[Finding] = []
    whole_station = False

    found = silent(last_seen, now, rules)
    if found:
        health.append(found)
        whole_station = True
    if ratios is not None:
        found = suspect(*ratios, rules)
        if found:
            health.append(found)
            whole_station = True

    newest: dict[str, Sample] = {}
    for sample in latest:
        if sample.pollutant not in newest or sample.at > newest[sample.pollutant].at:
            newest[sample.pollutant] = sample
    pollutants = list(dict.fromkeys([s.pollutant for s in latest] + [s.pollutant for s in history]))

    for pollutant in pollutants:
        broken = False
        current = newest.get(pollutant)
        if current is not None:
            found = flag([current], rules)
            if found:
                health.append(found)
                broken = True
        merged = {s.at: s for s in history if s.pollutant == pollutant}
        if current is not None:
            merged[current.at] = current
        found = flat(list(merged.values()), now, rules)
        if found:
            health.append(found)
            broken = True
        if whole_station or broken or current is None:
            continue
        iaqi = iaqi_of(pollutant, current.value) if iaqi_of else None
        for found in (
            level(pollutant, current.value, iaqi, rules),
            spike(pollutant, previous.get(pollutant), current.value, rules),
            spatial(pollutant, current.value, neighbours.get(pollutant, []), rules),
        ):
            if found:
                alerts.append(found)
    return health + alerts
