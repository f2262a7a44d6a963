"""The assessment's settings (configuration keys, with their defaults)."""

DEFAULTS = {
    # Working days after a month is frozen during which a county may appeal a deduction.
    "ASSESS_APPEAL_WORKING_DAYS": 5,
}
