"""The words for a photo's flags, in the user's language."""

from i18n import N_

FLAGS = {
    "no_location": N_("no location"),
    "outside_grid": N_("outside the grid"),
    "poor_accuracy": N_("poor location accuracy"),
    "time_mismatch": N_("photo time differs"),
    "exif_far_from_fix": N_("photo position far from the phone's"),
    "duplicate": N_("same photo used before"),
    "clock_skewed": N_("phone clock off"),
    "watermark_font_missing": N_("watermark without Chinese font"),
}
