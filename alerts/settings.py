"""The alerts domain's settings as configured."""

DEFAULTS = {
    # Readings: the most items in one JSON batch, and values above these are refused as absurd
    # (µg/m³; CO mg/m³). The limits sit well above anything measured in a dust storm or a fire
    # (PM10 in a Xinjiang dust storm passes 10,000 µg/m³), below what only a broken sensor says.
    "READINGS_BATCH_MAX": 1000,
    "READING_VALUE_LIMITS": {
        "PM2.5": 5000.0,
        "PM10": 20000.0,
        "SO2": 10000.0,
        "NO2": 5000.0,
        "CO": 200.0,
        "O3": 2000.0,
    },
    # How far ahead of the server's clock a reading may be stamped (device clocks drift), and
    # how far back a device may backfill what it held while offline.
    "READING_FUTURE_SLACK_MINUTES": 5,
    "READING_BACKFILL_DAYS": 400,
}

DEFAULTS.update(
    {
        # The anomaly rules' parameters (alerts/anomaly.py Rules; any field may be set here).
        "ALERT_RULES": {},
        # RULES §4: the on-site situation within 1 hour, the disposal result within 2 hours of
        # the instruction; a reminder this many minutes before each.
        "ALERT_ONSITE_MINUTES": 60,
        "ALERT_DISPOSAL_MINUTES": 120,
        "ALERT_REMINDER_MINUTES": 15,
        # On-site feedback proves arrival: a GPS fix within this distance of the station.
        "ALERT_ARRIVAL_DISTANCE_M": 500,
        # The hourly level rule needs this many minute values in the last hour.
        "ALERT_HOUR_MIN_VALUES": 45,
        # The demo replays readings so that alerts happen while `make run` serves.
        "DEMO_REPLAY": False,
    }
)
