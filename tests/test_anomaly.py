"""Micro-station anomaly rules (STANDARDS.md "Micro-station anomaly rules", "HJ 633", "HJ 212").

Expected numbers are written from the published values (ADF: Chen et al., IEEE IoT Journal 5(2),
2018; the HJ 633 level boundaries; the HJ 212 flags), never computed by the code under test.
"""

import ast
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts import anomaly
from alerts.anomaly import (
    Neighbour,
    Rules,
    Sample,
    anomaly_ratio,
    distance_km,
    evaluate,
    flag,
    flat,
    is_suspect,
    level,
    neighbours_within,
    silent,
    spatial,
    spatial_threshold,
    spike,
    suspect,
    suspect_score,
)

NOW = datetime(2026, 6, 1, 12, 0)
KM_PER_DEGREE = 111.195  # one degree of a great circle on a 6371.0088 km sphere


def hourly(values, pollutant="PM2.5", end=NOW, flags=None):
    """Samples one hour apart, the last at `end`."""
    flags = flags or ["N"] * len(values)
    n = len(values)
    return [
        Sample(end - timedelta(hours=n - 1 - i), pollutant, v, f)
        for i, (v, f) in enumerate(zip(values, flags, strict=True))
    ]


def test_the_defaults_are_the_published_ones():
    rules = Rules()
    assert rules.level_threshold == 150  # HJ 633: 151-200 is level 4, 中度污染
    assert (rules.spike_min_previous, rules.spike_ratio) == (20.0, 0.2)
    assert rules.spike_pollutants == ("PM2.5", "PM10")
    assert (rules.neighbour_radius_km, rules.neighbour_min) == (3.0, 2)
    assert rules.spatial_bands == (
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
    assert (rules.spatial_ratio, rules.spatial_floor) == (0.5, 10.0)
    assert (rules.silent_after_minutes, rules.flat_hours, rules.flat_tolerance) == (60, 3, 0.0)
    assert (rules.suspect_weights, rules.suspect_ratio) == ((0.2, 0.3, 0.5), 0.5)
    assert rules.valid_flags == ("N",)


# --- level (HJ 633) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iaqi", "fires"),
    [(None, False), (100, False), (149, False), (150, False), (151, True), (300, True)],
)
def test_level_fires_above_iaqi_150(iaqi, fires):
    found = level("PM2.5", 116.0, iaqi)
    assert (found is not None) == fires
    if found:
        assert (found.rule, found.kind, found.pollutant) == ("level", "alert", "PM2.5")
        assert (found.value, found.threshold) == (iaqi, 150)
        assert found.message % found.params == f"PM2.5 at 116: IAQI {iaqi}, above 150"


def test_level_threshold_is_configurable():
    rules = Rules(level_threshold=100)
    assert level("O3", 201.0, 100, rules) is None
    assert level("O3", 201.0, 101, rules) is not None


# --- spike (ADF temporal rule) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "value", "fires"),
    [
        (50.0, 59.0, False),
        (50.0, 60.0, False),  # a rise of exactly 1/5
        (50.0, 60.5, True),
        (50.0, 30.0, False),  # a fall
        (None, 500.0, False),
        (20.0, 100.0, False),  # previous must be above 20
        (20.5, 24.6, False),  # 20.5 + 4.1
        (20.5, 24.7, True),
        (19.0, 100.0, False),
    ],
)
def test_spike_needs_previous_above_20_and_a_rise_above_one_fifth(previous, value, fires):
    found = spike("PM2.5", previous, value)
    assert (found is not None) == fires
    if found:
        assert (found.rule, found.kind, found.value) == ("spike", "alert", value)


def test_spike_threshold_and_message():
    found = spike("PM10", 50.0, 61.0)
    assert found is not None
    assert found.threshold == pytest.approx(60.0)
    assert found.message % found.params == "PM10 rose from 50 to 61, more than 20% in one step"


def test_spike_only_for_the_configured_pollutants():
    assert spike("SO2", 50.0, 100.0) is None
    assert spike("SO2", 50.0, 100.0, Rules(spike_pollutants=("SO2",))) is not None
    assert spike("PM2.5", 50.0, 100.0, Rules(spike_pollutants=("SO2",))) is None


# --- spatial (ADF) --------------------------------------------------------------------------

# The ADF PM2.5 table, edges from both sides: (neighbour mean, allowed excess)
PM25_BANDS = [
    (0.0, 6.6),
    (23.99, 6.6),
    (24.0, 9.35),
    (35.99, 9.35),
    (36.0, 13.5),
    (41.99, 13.5),
    (42.0, 17.0),
    (47.99, 17.0),
    (48.0, 23.0),
    (53.99, 23.0),
    (54.0, 27.5),
    (58.99, 27.5),
    (59.0, 33.5),
    (64.99, 33.5),
    (65.0, 40.5),
    (70.99, 40.5),
    (71.0, 91.5),
    (500.0, 91.5),
]


@pytest.mark.parametrize(("mean", "allowed"), PM25_BANDS)
def test_pm25_band_edges(mean, allowed):
    assert spatial_threshold("PM2.5", mean) == allowed


@pytest.mark.parametrize(
    ("pollutant", "mean", "allowed"),
    [
        ("PM10", 30.0, 15.0),  # half the mean
        ("PM10", 20.0, 10.0),  # half the mean equals the floor
        ("NO2", 8.0, 10.0),  # the floor
        ("CO", 4.0, 2.0),  # mg/m³: half the mean
        ("CO", 1.0, 1.0),  # mg/m³: the CO floor, not 10
    ],
)
def test_other_pollutants_half_the_mean_with_a_floor(pollutant, mean, allowed):
    assert spatial_threshold(pollutant, mean) == allowed


@pytest.mark.parametrize(
    ("neighbours", "value", "fires"),
    [
        ([20.0, 20.0], 26.5, False),
        ([20.0, 20.0], 26.6, False),  # exactly 6.6 above the mean
        ([20.0, 20.0], 26.7, True),
        ([23.99, 23.99], 30.69, True),  # mean below 24: 6.6
        ([24.0, 24.0], 30.69, False),  # mean 24: 9.35
        ([24.0, 24.0], 33.4, True),
        ([18.0, 22.0], 26.7, True),  # the mean of the neighbours, 20
        ([80.0, 80.0], 171.5, False),  # the open band: 91.5
        ([80.0, 80.0], 171.6, True),
        ([50.0, 50.0], 0.0, False),  # below the neighbours
    ],
)
def test_spatial_pm25(neighbours, value, fires):
    found = spatial("PM2.5", value, neighbours)
    assert (found is not None) == fires
    if found:
        assert (found.rule, found.kind, found.pollutant) == ("spatial", "alert", "PM2.5")


def test_spatial_other_pollutant_at_its_threshold():
    assert spatial("PM10", 45.0, [30.0, 30.0]) is None  # 15 above a mean of 30
    found = spatial("PM10", 45.5, [30.0, 30.0])
    assert found is not None
    assert found.threshold == 45.0
    assert found.message % found.params == (
        "PM10 at 45.5 is 15.5 above the mean of 2 neighbours (30); the limit is 15"
    )


def test_spatial_needs_enough_neighbours():
    assert spatial("PM2.5", 1000.0, []) is None
    assert spatial("PM2.5", 1000.0, [20.0]) is None
    assert spatial("PM2.5", 1000.0, [20.0], Rules(neighbour_min=1)) is not None
    assert spatial("PM2.5", 1000.0, [20.0, 20.0], Rules(neighbour_min=3)) is None


# --- neighbours -----------------------------------------------------------------------------


def test_distance_along_a_meridian_and_the_equator():
    assert distance_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(KM_PER_DEGREE, abs=0.001)
    assert distance_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(KM_PER_DEGREE, abs=0.001)
    assert distance_km(0.0, 120.0, 0.0, 121.0) == pytest.approx(KM_PER_DEGREE, abs=0.001)
    assert distance_km(30.0, 120.0, 30.0, 120.0) == 0.0
    # a quarter of a great circle: pole to equator
    assert distance_km(90.0, 0.0, 0.0, 45.0) == pytest.approx(90 * KM_PER_DEGREE, abs=0.1)


def test_neighbours_within_3_km():
    lat, lon = 30.0, 120.0
    near_n = Neighbour("near-n", lat + 2.9 / KM_PER_DEGREE, lon, 10.0)
    far_n = Neighbour("far-n", lat + 3.1 / KM_PER_DEGREE, lon, 10.0)
    near_s = Neighbour("near-s", lat - 2.9 / KM_PER_DEGREE, lon, None)
    far_s = Neighbour("far-s", lat - 3.1 / KM_PER_DEGREE, lon, 10.0)
    found = neighbours_within(lat, lon, [far_n, near_n, far_s, near_s], 3.0)
    assert [n.code for n in found] == ["near-n", "near-s"]


# --- silent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "fires"), [(0, False), (59, False), (60, False), (61, True)])
def test_silent_after_60_minutes(minutes, fires):
    found = silent(NOW - timedelta(minutes=minutes), NOW)
    assert (found is not None) == fires
    if found:
        assert (found.rule, found.kind, found.pollutant) == ("silent", "health", None)
        assert (found.value, found.threshold) == (61.0, 60)
        assert found.message % found.params == "No data for 61 minutes (the limit is 60)"


def test_never_seen_is_silent():
    found = silent(None, NOW)
    assert found is not None and found.value is None and found.kind == "health"


# --- flat -----------------------------------------------------------------------------------


def test_flat_for_three_hours_with_a_value_each_hour():
    found = flat(hourly([35.0, 35.0, 35.0, 35.0]), NOW)  # 09:00 to 12:00
    assert found is not None
    assert (found.rule, found.kind, found.pollutant) == ("flat", "health", "PM2.5")
    assert found.params["count"] == 4 and found.params["hours"] == 3
    assert found.message % found.params == "PM2.5 has stayed at 35 for 3 hours (4 values)"


@pytest.mark.parametrize(
    ("samples", "rules", "fires"),
    [
        (hourly([35.0, 35.0, 35.0]), Rules(), False),  # two hours only
        (hourly([34.9, 35.0, 35.0, 35.0]), Rules(), False),  # 09:00 differs
        (hourly([35.0, 35.0, 35.1, 35.0]), Rules(), False),  # 11:00 differs
        (hourly([34.9, 35.0, 35.0, 35.0]), Rules(flat_tolerance=0.2), True),
        (hourly([1.0, 35.0, 35.0, 35.0, 35.0]), Rules(), True),  # earlier change: 3 hours flat
        (hourly([35.0, 35.0, 35.0, 35.0], flags=["N", "M", "N", "N"]), Rules(), False),
        (hourly([35.0] * 7), Rules(flat_hours=6), True),
        (hourly([35.0] * 6), Rules(flat_hours=6), False),
    ],
)
def test_flat_needs_the_whole_span_within_tolerance(samples, rules, fires):
    assert (flat(samples, NOW, rules) is not None) == fires


def test_flat_needs_enough_values_not_just_two_far_apart():
    two = [Sample(NOW - timedelta(hours=3), "PM2.5", 35.0), Sample(NOW, "PM2.5", 35.0)]
    assert flat(two, NOW) is None
    # every 5 minutes for the last 15 minutes: many values, too short a time
    recent = [Sample(NOW - timedelta(minutes=m), "PM2.5", 35.0) for m in (0, 5, 10, 15)]
    assert flat(recent, NOW) is None


def test_flat_ignores_order_and_the_future():
    samples = hourly([35.0, 35.0, 35.0, 35.0])
    assert flat(list(reversed(samples)), NOW) is not None
    later = [*samples, Sample(NOW + timedelta(hours=1), "PM2.5", 99.0)]
    assert flat(later, NOW) is not None
    assert flat(samples, NOW - timedelta(hours=1)) is None  # 12:00 not yet there


# --- flags (HJ 212) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("F", "stopped"),
        ("M", "maintenance"),
        ("S", "manual value"),
        ("D", "fault"),
        ("C", "calibration"),
        ("T", "above the measuring limit"),
        ("B", "communication failure"),
    ],
)
def test_flag_names_the_flag(code, meaning):
    samples = hourly([30.0, 31.0, 32.0], pollutant="PM10", flags=["N", code, code])
    found = flag(samples)
    assert found is not None
    assert (found.rule, found.kind, found.pollutant) == ("flag", "health", "PM10")
    assert found.params["flag"] == code and found.value == 2
    assert found.message % found.params == (f"PM10 data flagged {code} ({meaning}): 2 of 3 values")


def test_flag_normal_data_gives_nothing():
    assert flag(hourly([30.0, 31.0])) is None
    assert flag([]) is None


def test_flag_names_the_latest_bad_flag():
    found = flag(hourly([30.0, 31.0, 32.0], flags=["D", "D", "C"]))
    assert found is not None
    assert (found.params["flag"], found.params["count"]) == ("C", 1)


def test_flag_unknown_code_and_configured_valid_flags():
    found = flag(hourly([30.0], flags=["X"]))
    assert found is not None
    assert found.message % found.params == "PM2.5 data flagged X (an unknown flag): 1 of 1 values"
    assert flag(hourly([30.0], flags=["S"]), Rules(valid_flags=("N", "S"))) is None


# --- suspect devices (ADF) ------------------------------------------------------------------


def test_anomaly_ratio():
    assert anomaly_ratio([]) == 0.0
    assert anomaly_ratio([True, False, False, False]) == 0.25
    assert anomaly_ratio([True, True]) == 1.0


@pytest.mark.parametrize(
    ("ratios", "score", "suspected"),
    [
        ((1.0, 0.0, 0.0), 0.2, False),
        ((0.0, 1.0, 0.0), 0.3, False),
        ((0.0, 0.0, 1.0), 0.5, False),  # exactly at 0.5
        ((1.0, 1.0, 0.0), 0.5, False),
        ((0.5, 0.5, 0.5), 0.5, False),
        ((1.0, 1.0, 0.02), 0.51, True),
        ((0.0, 0.04, 1.0), 0.512, True),
        ((1.0, 1.0, 1.0), 1.0, True),
    ],
)
def test_suspect_score_weights_1_7_14_days(ratios, score, suspected):
    assert suspect_score(*ratios) == pytest.approx(score)
    assert is_suspect(*ratios) == suspected
    found = suspect(*ratios)
    assert (found is not None) == suspected
    if found:
        assert (found.rule, found.kind, found.pollutant) == ("suspect", "health", None)


def test_suspect_score_rejects_ratios_outside_0_1():
    with pytest.raises(ValueError):
        suspect_score(1.5, 0.0, 0.0)
    with pytest.raises(ValueError):
        suspect_score(0.0, -0.1, 0.0)


# --- configuration --------------------------------------------------------------------------


def test_from_mapping_replaces_what_it_names():
    rules = Rules.from_mapping(
        {
            "level_threshold": 100,
            "spike_ratio": 1,  # an int for a float
            "spike_pollutants": ["PM2.5"],
            "spatial_bands": [[30, 5.0], [None, 50]],
            "suspect_weights": [0.5, 0.25, 0.25],
        }
    )
    assert rules.level_threshold == 100
    assert rules.spike_ratio == 1.0 and isinstance(rules.spike_ratio, float)
    assert rules.spike_pollutants == ("PM2.5",)
    assert rules.spatial_bands == ((30.0, 5.0), (None, 50.0))
    assert rules.suspect_weights == (0.5, 0.25, 0.25)
    assert rules.neighbour_min == 2  # untouched
    assert Rules.from_mapping({}) == Rules()


def test_from_mapping_rejects_an_unknown_key():
    with pytest.raises(ValueError, match="unknown key 'spike_treshold'"):
        Rules.from_mapping({"spike_treshold": 0.3})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("level_threshold", "150"),
        ("level_threshold", 150.0),
        ("level_threshold", True),
        ("level_threshold", 501),
        ("spike_ratio", "0.2"),
        ("spike_ratio", float("nan")),
        ("spike_ratio", 0),
        ("spike_pollutants", "PM2.5"),  # a string, not a list of them
        ("spike_pollutants", ["PM2.5", 10]),
        ("neighbour_min", 0),
        ("neighbour_radius_km", None),
        ("spatial_bands", [[24, 6.6], [36, 9.35]]),  # no open-ended last band
        ("spatial_bands", [[36, 9.35], [24, 6.6], [None, 91.5]]),  # not rising
        ("spatial_bands", [[24, 6.6, 1], [None, 91.5]]),
        ("silent_after_minutes", 60.5),
        ("flat_hours", 0),
        ("flat_tolerance", -1),
        ("suspect_weights", [0.2, 0.3, 0.6]),  # not summing to 1
        ("suspect_weights", [0.5, 0.5]),
        ("suspect_ratio", 1.5),
        ("valid_flags", ["N", "X"]),
        ("valid_flags", []),
    ],
)
def test_from_mapping_rejects_a_bad_value(key, value):
    with pytest.raises(ValueError, match=f"bad value for {key}"):
        Rules.from_mapping({key: value})


# --- one station at one moment --------------------------------------------------------------


def iaqi_of(pollutant, value):
    return {"PM2.5": 250, "PM10": 120}.get(pollutant)  # whatever HJ 633 says: given here


def station(**changes):
    """A station with alerts for PM2.5 (level, spike, spatial) and PM10 (spike)."""
    args = {
        "now": NOW,
        "latest": [Sample(NOW, "PM2.5", 200.0), Sample(NOW, "PM10", 130.0)],
        "previous": {"PM2.5": 100.0, "PM10": 100.0},
        "history": hourly([90.0, 95.0, 100.0]) + hourly([80.0, 90.0, 100.0], "PM10"),
        "neighbours": {"PM2.5": [50.0, 50.0], "PM10": [120.0, 130.0]},
        "last_seen": NOW,
        "iaqi_of": iaqi_of,
    }
    args.update(changes)
    return evaluate(**args)


def summary(findings):
    return [(f.rule, f.kind, f.pollutant) for f in findings]


def test_evaluate_a_working_station_alerts():
    assert summary(station()) == [
        ("level", "alert", "PM2.5"),
        ("spike", "alert", "PM2.5"),
        ("spatial", "alert", "PM2.5"),
        ("spike", "alert", "PM10"),
    ]


def test_evaluate_without_iaqi_has_no_level_rule():
    assert ("level", "alert", "PM2.5") not in summary(station(iaqi_of=None))


def test_evaluate_silent_suppresses_every_alert():
    assert summary(station(last_seen=NOW - timedelta(minutes=61))) == [("silent", "health", None)]
    assert summary(station(last_seen=None)) == [("silent", "health", None)]


def test_evaluate_suspect_suppresses_every_alert():
    assert summary(station(ratios=(1.0, 1.0, 1.0))) == [("suspect", "health", None)]
    assert len(station(ratios=(0.0, 0.0, 0.0))) == 4


def test_evaluate_flat_suppresses_that_pollutants_alerts():
    # 09:00 to 11:00 in the history, 12:00 the latest sample: three hours at 200
    history = hourly([200.0] * 3, end=NOW - timedelta(hours=1)) + hourly([80.0], "PM10")
    findings = station(history=history)
    assert summary(findings) == [("flat", "health", "PM2.5"), ("spike", "alert", "PM10")]


def test_evaluate_a_bad_flag_suppresses_that_pollutants_alerts():
    latest = [Sample(NOW, "PM2.5", 200.0, "D"), Sample(NOW, "PM10", 130.0)]
    findings = station(latest=latest)
    assert summary(findings) == [("flag", "health", "PM2.5"), ("spike", "alert", "PM10")]
    assert findings[0].params["flag"] == "D"


def test_evaluate_reports_health_first_and_all_of_it():
    latest = [Sample(NOW - timedelta(hours=2), "PM2.5", 200.0, "B")]
    findings = station(latest=latest, last_seen=NOW - timedelta(hours=2), ratios=(1, 1, 1))
    assert summary(findings) == [
        ("silent", "health", None),
        ("suspect", "health", None),
        ("flag", "health", "PM2.5"),
    ]


def test_evaluate_uses_the_newest_of_several_latest_samples():
    latest = [
        Sample(NOW, "PM10", 100.0),
        Sample(NOW - timedelta(hours=1), "PM10", 500.0),
    ]
    assert summary(station(latest=latest, history=[])) == []


def test_every_message_fills_from_its_params():
    findings = station() + station(latest=[Sample(NOW, "PM2.5", 1.0, "T")], ratios=(1, 1, 1))
    findings += [silent(None, NOW), flat(hourly([35.0] * 4), NOW)]
    for found in findings:
        assert found is not None
        assert "%(" not in found.message % found.params


def test_the_module_is_pure():
    """Standard library and the N_ marker only (pyproject's contract for pure rule modules)."""
    tree = ast.parse(Path(anomaly.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"math", "collections", "dataclasses", "datetime", "typing", "i18n"}
