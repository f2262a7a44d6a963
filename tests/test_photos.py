"""patrol.photos and patrol.storage over a generated corpus (tests/photo_corpus.py).

No database: none of these tests asks for the app fixtures, so they run once, not per backend.
"""

import hashlib
import io
import math
import os
import warnings
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import imagehash
import numpy as np
import photo_corpus as corpus
import pytest
from PIL import Image, ImageFile
from shapely.geometry import Polygon, box

from evidence import photos
from evidence.photos import Capture, Limits, PhotoRejected
from evidence.storage import LocalStore, PhotoStore, photo_keys

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAPTURED = datetime(2026, 11, 22, 11, 30, 5)  # UTC; 19:30:05 in Beijing
CAPTURED_LOCAL = datetime(2026, 11, 22, 19, 30, 5)
FIX = (44.012345, 87.300123)
METRES_PER_DEGREE = 6371008.8 * math.pi / 180
MISSING_FONT = "/nonexistent/NotoSansCJK-Regular.ttc"


def capture(**changes) -> Capture:
    fields = {
        "captured_at": CAPTURED,
        "fix": FIX,
        "fix_accuracy_m": 12.0,
        "grid_area": None,
        "grid_name": "三工镇头工村",
        "supervisor_name": "张三",
        "timezone": SHANGHAI,
    }
    fields.update(changes)
    return Capture(**fields)


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def codes(result: photos.ProcessedPhoto) -> list[str]:
    return [f.code for f in result.flags]


def flag(result: photos.ProcessedPhoto, code: str) -> photos.Flag:
    (found,) = [f for f in result.flags if f.code == code]
    return found


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return corpus.realistic(1000, 750, seed=1)


@pytest.fixture(scope="module")
def photo_jpeg(photo) -> bytes:
    return corpus.jpeg(photo)


def assert_rejected(excinfo, code: str, status: int) -> None:
    exc = excinfo.value
    assert (exc.code, exc.status) == (code, status)
    assert str(exc) == exc.message and exc.message.endswith(".")


# --- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(orientation):
    upright = corpus.pattern(240, 160)
    stored = corpus.stored_for(upright, orientation)
    data = corpus.jpeg(stored, corpus.exif(orientation=orientation))

    result = photos.process(data, capture())

    assert result.facts.orientation == orientation
    assert (result.facts.width, result.facts.height) == (240, 160)
    display = decoded(result.display)
    assert display.size == (240, 160)
    assert near(display.getpixel((20, 12)), corpus.RED)  # top-left
    assert near(display.getpixel((220, 12)), corpus.GREEN)  # top-right
    assert near(display.getpixel((120, 60)), corpus.BLUE)
    thumb = decoded(result.thumbnail)
    assert thumb.size == (240, 160)
    assert near(thumb.getpixel((20, 12)), corpus.RED)


def test_no_orientation_tag_is_none():
    facts = photos.read_facts(corpus.jpeg(corpus.pattern()))
    assert facts.orientation is None
    assert (facts.width, facts.height) == (240, 160)


# --- GPS and time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "position",
    [(44.0123456, 87.3001234), (-33.8688197, -151.2092955), (51.4778, -0.0014), (-0.5, 36.8)],
)
def test_gps_is_read_with_signs(position):
    facts = photos.read_facts(corpus.jpeg(corpus.pattern(), corpus.exif(gps=position)))
    assert facts.gps is not None
    assert facts.gps[0] == pytest.approx(position[0], abs=1e-5)
    assert facts.gps[1] == pytest.approx(position[1], abs=1e-5)


@pytest.mark.parametrize(
    "block",
    [corpus.exif_zero_denominator(orientation=6), corpus.exif_text_latitude(orientation=6)],
    ids=["zero-denominator", "text-latitude"],
)
def test_corrupt_gps_is_none_and_the_rest_still_read(block):
    data = corpus.jpeg(corpus.pattern(), block)
    facts = photos.read_facts(data)
    assert facts.gps is None
    assert facts.orientation == 6
    result = photos.process(data, capture(fix=None))
    assert result.position is None
    assert "no_location" in codes(result)


def test_no_gps_and_no_fix_is_flagged_no_location():
    result = photos.process(corpus.jpeg(corpus.pattern()), capture(fix=None))
    assert result.facts.gps is None and result.position is None
    assert codes(result) == ["no_location"]
    assert "position" not in result.sources


def test_taken_at_prefers_original_then_modified():
    taken, changed = datetime(2026, 11, 22, 19, 29, 0), datetime(2026, 11, 23, 8, 0, 0)
    both = corpus.exif(taken_at=taken, changed_at=changed)
    assert photos.read_facts(corpus.jpeg(corpus.pattern(), both)).taken_at == taken
    only_changed = corpus.exif(changed_at=changed)
    assert photos.read_facts(corpus.jpeg(corpus.pattern(), only_changed)).taken_at == changed
    assert photos.read_facts(corpus.jpeg(corpus.pattern())).taken_at is None


def test_position_and_sources_precedence():
    exif_gps, reported = (44.02, 87.31), (44.03, 87.32)
    with_exif = corpus.jpeg(corpus.pattern(), corpus.exif(gps=exif_gps, taken_at=CAPTURED_LOCAL))
    plain = corpus.jpeg(corpus.pattern())

    result = photos.process(with_exif, capture(reported_gps=reported))
    assert result.position == FIX
    assert result.sources == {"position": "browser", "taken_at": "exif"}

    result = photos.process(with_exif, capture(fix=None, reported_gps=reported))
    assert result.position == pytest.approx(exif_gps, abs=1e-5)
    assert result.sources["position"] == "exif"

    result = photos.process(
        plain, capture(fix=None, reported_gps=reported, reported_taken_at=CAPTURED_LOCAL)
    )
    assert result.position == reported
    assert result.sources == {"position": "reported_exif", "taken_at": "reported_exif"}
    assert "no_location" not in codes(result)


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF"])
def test_other_formats_facts_and_images(fmt):
    upright = corpus.pattern(240, 160)
    stored = corpus.stored_for(upright, 6)
    block = corpus.exif(orientation=6, gps=(-31.230416, 121.473701), taken_at=CAPTURED_LOCAL)
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = corpus.encode(stored, fmt, block, **params)

    result = photos.process(data, capture(fix=None))

    facts = result.facts
    assert facts.format == fmt
    assert facts.orientation == 6
    assert (facts.width, facts.height) == (240, 160)
    assert facts.gps == pytest.approx((-31.230416, 121.473701), abs=1e-5)
    assert facts.taken_at == CAPTURED_LOCAL
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert result.sources == {"position": "exif", "taken_at": "exif"}
    display = decoded(result.display)
    assert display.format == "JPEG" and display.size == (240, 160)
    assert near(display.getpixel((20, 12)), corpus.RED)
    assert near(display.getpixel((220, 12)), corpus.GREEN)
    assert photos.read_facts(data) == facts


def test_multi_picture_jpeg_is_a_jpeg():
    """Phones often write MPO (a JPEG with extra pictures); Pillow names it MPO."""
    out = io.BytesIO()
    stored = corpus.stored_for(corpus.pattern(240, 160), 6)
    block = corpus.exif(orientation=6, gps=FIX).tobytes()
    stored.save(out, "MPO", save_all=True, append_images=[corpus.pattern()], exif=block)
    result = photos.process(out.getvalue(), capture())
    assert result.facts.format == "JPEG"
    assert (result.facts.width, result.facts.height) == (240, 160)
    assert result.facts.gps == pytest.approx(FIX, abs=1e-5)
    assert near(decoded(result.display).getpixel((20, 12)), corpus.RED)


def test_png_with_transparency_is_flattened_on_white():
    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    im.paste((200, 0, 0, 255), (0, 0, 100, 100))
    result = photos.process(corpus.encode(im, "PNG"), capture())
    display = decoded(result.display)
    assert display.mode == "RGB"
    assert near(display.getpixel((50, 20)), (200, 0, 0))
    assert near(display.getpixel((150, 20)), (255, 255, 255))


def test_grayscale_jpeg_is_processed():
    data = corpus.jpeg(corpus.pattern().convert("L"))
    result = photos.process(data, capture())
    assert decoded(result.display).mode == "RGB"


# --- refusals ---------------------------------------------------------------------------------


def test_truncated_jpeg_is_corrupt(photo_jpeg):
    for cut in (len(photo_jpeg) // 3, len(photo_jpeg) - 200):
        with pytest.raises(PhotoRejected) as excinfo:
            photos.process(photo_jpeg[:cut], capture())
        assert_rejected(excinfo, "corrupt", 400)


def test_truncated_png_and_heic_are_corrupt():
    small = corpus.realistic(320, 240, seed=5)
    for fmt in ("PNG", "HEIF"):
        data = corpus.encode(small, fmt)
        with pytest.raises(PhotoRejected) as excinfo:
            photos.process(data[: len(data) // 2], capture())
        assert_rejected(excinfo, "corrupt", 400)


def test_header_only_jpeg_is_corrupt_not_unsupported():
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(b"\xff\xd8\xff\xe0" + b"\0" * 20, capture())
    assert_rejected(excinfo, "corrupt", 400)


@pytest.mark.parametrize("kind", sorted(corpus.NOT_IMAGES))
def test_non_images_are_unsupported(kind):
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(corpus.NOT_IMAGES[kind], capture())
    assert_rejected(excinfo, "unsupported", 415)
    with pytest.raises(PhotoRejected):
        photos.read_facts(corpus.NOT_IMAGES[kind])


def test_gif_is_unsupported():
    with pytest.raises(PhotoRejected) as excinfo:
        photos.read_facts(corpus.gif())
    assert_rejected(excinfo, "unsupported", 415)


def test_empty_file():
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(b"", capture())
    assert_rejected(excinfo, "empty", 400)


def test_too_large_is_refused_before_parsing(photo_jpeg):
    assert Limits().max_bytes == 20 * 1024 * 1024
    limits = Limits(max_bytes=1000)
    # Invalid bytes over the limit: the size is checked first, so not "unsupported"/"corrupt".
    for data in (b"x" * 1001, b"\xff\xd8\xff" + b"\0" * 2000, photo_jpeg):
        with pytest.raises(PhotoRejected) as excinfo:
            photos.process(data, capture(), limits)
        assert_rejected(excinfo, "too_large", 413)
    with pytest.raises(PhotoRejected) as excinfo:
        photos.read_facts(b"\0" * (20 * 1024 * 1024 + 1))
    assert excinfo.value.code == "too_large"
    assert str(excinfo.value) == "The file is 20.1 MB; the limit is 20 MB."  # never "20 of 20"
    with pytest.raises(PhotoRejected) as excinfo:
        photos.read_facts(b"\0" * int(23.4 * 1024 * 1024))
    assert str(excinfo.value) == "The file is 23.4 MB; the limit is 20 MB."
    # At the limit exactly is fine.
    small = corpus.jpeg(corpus.pattern())
    assert photos.read_facts(small, Limits(max_bytes=len(small))).format == "JPEG"


def test_decompression_bomb_is_refused_from_the_header():
    bomb = corpus.png_bomb(20_000, 20_000)
    assert len(bomb) < 100_000
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(bomb, capture())
    assert_rejected(excinfo, "too_many_pixels", 413)
    assert "400 megapixels" in excinfo.value.message
    assert Image.MAX_IMAGE_PIXELS == before  # Pillow's global guard is left as it was


@pytest.mark.parametrize("side", [110, 150, 400])
def test_pixel_limit_from_limits(side):
    """Just over the limit (Pillow only warns), 2.25× (Pillow's error) and far over."""
    data = corpus.encode(corpus.pattern(side, side), "PNG")
    limits = Limits(max_pixels=10_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # whatever the caller's filters, no warning escapes
        with pytest.raises(PhotoRejected) as excinfo:
            photos.read_facts(data, limits)
    assert_rejected(excinfo, "too_many_pixels", 413)
    assert caught == []
    assert photos.read_facts(data, Limits(max_pixels=side * side)).width == side


def test_truncated_images_are_not_loaded_leniently():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- derived images ---------------------------------------------------------------------------


def test_display_and_thumbnail_sizes_formats_and_no_metadata():
    big = corpus.stored_for(corpus.realistic(2400, 1800, seed=2), 6)  # stored 1800 × 2400
    block = corpus.exif(orientation=6, gps=FIX, taken_at=CAPTURED_LOCAL)
    data = corpus.jpeg(big, block)

    result = photos.process(data, capture())

    assert result.original is data or result.original == data
    assert result.facts.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.facts.width, result.facts.height) == (2400, 1800)
    display, thumb = decoded(result.display), decoded(result.thumbnail)
    assert (display.format, display.size) == ("JPEG", (1600, 1200))
    assert (thumb.format, thumb.size) == ("JPEG", (320, 240))
    for im in (display, thumb):
        assert len(im.getexif()) == 0
        assert "exif" not in im.info and "xmp" not in im.info
    assert len(result.phash) == 16 and int(result.phash, 16) >= 0


def test_small_images_are_not_enlarged():
    result = photos.process(corpus.jpeg(corpus.pattern(100, 80)), capture())
    assert decoded(result.display).size == (100, 80)
    assert decoded(result.thumbnail).size == (100, 80)


def test_custom_display_and_thumbnail_sizes(photo_jpeg):
    result = photos.process(photo_jpeg, capture(), Limits(display_px=500, thumb_px=100))
    assert decoded(result.display).size == (500, 375)
    assert decoded(result.thumbnail).size == (100, 75)


def _diff(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean(axis=2)


def test_watermark_is_burnt_in_bottom_left_only(photo, photo_jpeg):
    result = photos.process(photo_jpeg, capture())
    display = decoded(result.display)
    assert display.size == photo.size  # 1000 × 750: no resize
    diff = _diff(display, photo)
    height, width = diff.shape
    band = diff[height - 40 :, : width // 5]
    above = diff[: height // 2, :]
    right = diff[height - 40 :, width * 4 // 5 :]
    assert band.mean() > 40  # darkened band and text
    assert above.mean() < 10  # re-encoding noise only
    assert right.mean() < 10
    assert result.watermark_font == photos.DEFAULT_FONT
    assert "watermark_font_missing" not in codes(result)


def test_watermark_text():
    lines = photos.watermark_lines(capture(), FIX)
    assert lines == [
        "2026-11-22 19:30:05 北京时间",
        "44.012345°N 87.300123°E",
        "网格：三工镇头工村  监督员：张三",
    ]
    assert photos.watermark_lines(capture(), None)[1] == "无定位"
    other = photos.watermark_lines(capture(timezone=ZoneInfo("Asia/Urumqi")), (-1.5, -2.25))
    assert other[:2] == ["2026-11-22 17:30:05 Asia/Urumqi", "1.500000°S 2.250000°W"]
    ascii_lines = photos.watermark_lines(capture(), FIX, ascii_only=True)
    assert ascii_lines == ["2026-11-22 19:30:05 Asia/Shanghai", "44.012345N 87.300123E"]
    fixed_offset = photos.watermark_lines(capture(timezone=timezone(timedelta(hours=5))), None)
    assert fixed_offset[0] == "2026-11-22 16:30:05 UTC+05:00"
    assert all(line.isascii() for line in ascii_lines)


def test_long_names_still_fit_the_image():
    names = capture(grid_name="新疆维吾尔自治区昌吉回族自治州" * 5, supervisor_name="阿卜杜热合曼")
    result = photos.process(corpus.jpeg(corpus.pattern(240, 160)), names)
    assert decoded(result.display).size == (240, 160)


@pytest.mark.parametrize("font", [MISSING_FONT, None, "unreadable"])
def test_missing_font_falls_back_and_is_flagged(photo, photo_jpeg, font, tmp_path):
    if font == "unreadable":
        path = tmp_path / "broken.ttf"
        path.write_bytes(b"not a font at all")
        font = str(path)
    result = photos.process(photo_jpeg, capture(), font_path=font)
    assert result.watermark_font is None
    assert flag(result, "watermark_font_missing").detail == {"font_path": font}
    diff = _diff(decoded(result.display), photo)
    assert diff[diff.shape[0] - 30 :, :100].mean() > 40


# --- flags ------------------------------------------------------------------------------------


def _square_grid(lat: float = 44.0, lon: float = 87.3, half_m: float = 500.0):
    dlat = half_m / METRES_PER_DEGREE
    dlon = dlat / math.cos(math.radians(lat))
    return box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def _east_of_grid(metres: float, lat: float = 44.0, lon: float = 87.3) -> tuple[float, float]:
    dlon = (500.0 + metres) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return (lat, lon + dlon)


def test_outside_grid(photo_jpeg):
    grid = _square_grid()
    inside = photos.process(photo_jpeg, capture(fix=(44.0, 87.3), grid_area=grid))
    assert inside.flags == ()
    near_edge = photos.process(photo_jpeg, capture(fix=_east_of_grid(150), grid_area=grid))
    assert "outside_grid" not in codes(near_edge)
    far = photos.process(photo_jpeg, capture(fix=_east_of_grid(500), grid_area=grid))
    assert flag(far, "outside_grid").detail["distance_m"] == pytest.approx(500, abs=2)
    no_grid = photos.process(photo_jpeg, capture(fix=_east_of_grid(5000), grid_area=None))
    assert "outside_grid" not in codes(no_grid)
    empty = photos.process(photo_jpeg, capture(fix=_east_of_grid(5000), grid_area=Polygon()))
    assert "outside_grid" not in codes(empty)


def test_outside_grid_uses_the_exif_position_without_a_fix():
    grid = _square_grid()
    data = corpus.jpeg(corpus.pattern(), corpus.exif(gps=_east_of_grid(1000)))
    result = photos.process(data, capture(fix=None, grid_area=grid))
    assert flag(result, "outside_grid").detail["distance_m"] == pytest.approx(1000, abs=3)


def test_distance_to_area_north_of_a_grid():
    grid = _square_grid()
    lat = 44.0 + (500 + 300) / METRES_PER_DEGREE
    assert photos.distance_to_area_m(lat, 87.3, grid) == pytest.approx(300, abs=1)


def test_poor_accuracy(photo_jpeg):
    poor = photos.process(photo_jpeg, capture(fix_accuracy_m=150.0))
    assert flag(poor, "poor_accuracy").detail == {"accuracy_m": 150.0}
    good = photos.process(photo_jpeg, capture(fix_accuracy_m=100.0))
    assert "poor_accuracy" not in codes(good)


def test_time_mismatch_compares_camera_local_time():
    def with_time(taken: datetime) -> photos.ProcessedPhoto:
        data = corpus.jpeg(corpus.pattern(), corpus.exif(taken_at=taken))
        return photos.process(data, capture())

    # Beijing 19:30:05 is 11:30:05 UTC: the 8 h offset is not a mismatch.
    assert "time_mismatch" not in codes(with_time(CAPTURED_LOCAL))
    assert "time_mismatch" not in codes(with_time(CAPTURED_LOCAL - timedelta(minutes=9)))
    late = with_time(CAPTURED_LOCAL + timedelta(hours=1))
    assert flag(late, "time_mismatch").detail == {"difference_s": 3600.0}
    utc_camera = with_time(CAPTURED)  # a camera set to UTC: 8 h off
    assert flag(utc_camera, "time_mismatch").detail == {"difference_s": -8 * 3600.0}


def test_time_mismatch_from_reported_exif_time():
    plain = corpus.jpeg(corpus.pattern())
    old = CAPTURED_LOCAL - timedelta(days=2)
    result = photos.process(plain, capture(reported_taken_at=old))
    assert flag(result, "time_mismatch").detail == {"difference_s": -2 * 86400.0}
    fine = photos.process(plain, capture(reported_taken_at=CAPTURED_LOCAL))
    assert "time_mismatch" not in codes(fine)
    assert "time_mismatch" not in codes(photos.process(plain, capture()))


def test_exif_far_from_fix():
    lat, lon = FIX
    one_km_north = (lat + 1000 / METRES_PER_DEGREE, lon)
    far = photos.process(corpus.jpeg(corpus.pattern(), corpus.exif(gps=one_km_north)), capture())
    assert flag(far, "exif_far_from_fix").detail["distance_m"] == pytest.approx(1000, abs=2)
    close = (lat + 100 / METRES_PER_DEGREE, lon)
    near_fix = photos.process(corpus.jpeg(corpus.pattern(), corpus.exif(gps=close)), capture())
    assert "exif_far_from_fix" not in codes(near_fix)
    reported = photos.process(corpus.jpeg(corpus.pattern()), capture(reported_gps=one_km_north))
    assert "exif_far_from_fix" in codes(reported)
    no_fix = photos.process(corpus.jpeg(corpus.pattern()), capture(fix=None, reported_gps=FIX))
    assert "exif_far_from_fix" not in codes(no_fix)


def test_duplicate_by_perceptual_hash(photo, photo_jpeg):
    first = photos.process(photo_jpeg, capture())
    assert "duplicate" not in codes(first)
    copy = photo.resize((600, 450), Image.Resampling.BILINEAR)
    recompressed = corpus.jpeg(copy, quality=60)
    assert recompressed != photo_jpeg
    other = corpus.jpeg(corpus.realistic(1000, 750, seed=7))
    known = [("report-17", first.phash), ("report-3", "ffffffffffffffff"), ("bad", "xyz")]

    again = photos.process(recompressed, capture(known_hashes=known))
    detail = flag(again, "duplicate").detail
    assert detail["reference"] == "report-17"
    assert 0 <= detail["distance"] <= Limits().duplicate_distance
    assert detail["distance"] == imagehash.hex_to_hash(again.phash) - imagehash.hex_to_hash(
        first.phash
    )

    different = photos.process(other, capture(known_hashes=known))
    assert "duplicate" not in codes(different)
    distance = imagehash.hex_to_hash(different.phash) - imagehash.hex_to_hash(first.phash)
    assert distance > 2 * Limits().duplicate_distance


def test_duplicate_reports_the_closest_match(photo_jpeg):
    first = photos.process(photo_jpeg, capture())
    one_bit_off = f"{int(first.phash, 16) ^ 1:016x}"
    result = photos.process(
        photo_jpeg, capture(known_hashes=[("near", one_bit_off), ("same", first.phash)])
    )
    assert flag(result, "duplicate").detail == {"reference": "same", "distance": 0}


def test_a_clean_capture_has_no_flags(photo_jpeg):
    grid = _square_grid(FIX[0], FIX[1])
    result = photos.process(photo_jpeg, capture(grid_area=grid))
    assert result.flags == ()
    assert result.position == FIX


# --- read_facts -------------------------------------------------------------------------------


def test_read_facts_never_decodes_pixels(monkeypatch):
    block = corpus.exif(orientation=8, gps=FIX, taken_at=CAPTURED_LOCAL)
    samples = [
        corpus.jpeg(corpus.realistic(400, 300, seed=3), block),
        corpus.encode(corpus.pattern(), "PNG"),
        corpus.encode(corpus.pattern(), "PNG", block),
        corpus.encode(corpus.pattern(), "WEBP", block),
        corpus.encode(corpus.pattern(), "HEIF", block),
    ]
    expected = [photos.process(data, capture()).facts for data in samples]

    def refuse(self, *args, **kwargs):
        raise AssertionError("read_facts decoded pixels")

    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    for data, facts in zip(samples, expected, strict=True):
        assert photos.read_facts(data) == facts
    assert expected[0].orientation == 8 and (expected[0].width, expected[0].height) == (300, 400)
    assert expected[0].gps == pytest.approx(FIX, abs=1e-5)
    assert expected[0].taken_at == CAPTURED_LOCAL


def test_rejection_codes_and_statuses():
    statuses = {
        code: PhotoRejected(code, "x.").status
        for code in ("too_large", "too_many_pixels", "unsupported", "corrupt", "empty")
    }
    assert statuses == {
        "too_large": 413,
        "too_many_pixels": 413,
        "unsupported": 415,
        "corrupt": 400,
        "empty": 400,
    }


# --- storage ----------------------------------------------------------------------------------

SHA = hashlib.sha256(b"photo").hexdigest()


def test_photo_keys():
    assert photo_keys(SHA, "originals", "jpg") == f"originals/{SHA[:2]}/{SHA[2:4]}/{SHA}.jpg"
    assert photo_keys(SHA.upper(), "thumbs", ".JPG") == f"thumbs/{SHA[:2]}/{SHA[2:4]}/{SHA}.jpg"
    for bad in [(SHA, "other", "jpg"), ("abc", "display", "jpg"), (SHA, "display", "j/g")]:
        with pytest.raises(ValueError):
            photo_keys(*bad)


def test_local_store_round_trip(tmp_path):
    store = LocalStore(tmp_path / "photos")
    assert isinstance(store, PhotoStore)
    assert not (tmp_path / "photos").exists()  # created lazily
    key = photo_keys(SHA, "originals", "jpg")
    assert not store.exists(key)
    with pytest.raises(KeyError):
        store.get(key)

    store.put(key, b"first")
    store.put(key, b"photo")  # idempotent: replaces
    assert store.exists(key)
    assert store.get(key) == b"photo"
    assert (tmp_path / "photos" / key).read_bytes() == b"photo"
    leftovers = [p for p in (tmp_path / "photos").rglob("*") if p.is_file()]
    assert leftovers == [tmp_path / "photos" / key]  # no temporary file left behind
    assert os.stat(tmp_path / "photos" / key).st_mode & 0o777 == 0o644

    store.delete(key)
    store.delete(key)  # absent: no error
    assert not store.exists(key)
    with pytest.raises(KeyError):
        store.get(key)


@pytest.mark.parametrize(
    "key", ["../x", "/abs", "a/../../x", "originals/../../etc/passwd", "", "a//b", "a\\b", "./a"]
)
def test_local_store_refuses_keys_outside_the_root(tmp_path, key):
    store = LocalStore(tmp_path)
    for call in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(ValueError):
            call()
    assert list(tmp_path.iterdir()) == []
