"""Evidence photos: validate what a phone sent, read its facts, make the derived images, flag
what a reviewer should look at. Pure: bytes in, images and facts out (the only file it reads is
the watermark font).

- `read_facts(data)` reads the header and EXIF only, never the pixels.
- `process(data, capture)` returns a complete `ProcessedPhoto` or raises `PhotoRejected`; nothing
  is produced half-way.

Speed: a JPEG is decoded with libjpeg's DCT scaling (`Image.draft`) at the smallest power-of-two
reduction still at least as large as the display image, resized once, and only then turned
upright (transposing the small image, not the full-size one). The thumbnail and the perceptual
hash come from that display-sized image.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import re
import struct
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final, Literal, TypeAlias

import imagehash
import pillow_heif
import shapely
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from grid.geo import EARTH_RADIUS_M, haversine_m
from i18n import N_

pillow_heif.register_heif_opener()

DEFAULT_FONT: Final = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

RejectionCode = Literal[
    "too_large", "unsupported", "corrupt", "too_many_pixels", "too_compressed", "empty"
]
_STATUS: Final[dict[str, int]] = {
    "too_large": 413,  # Content Too Large
    "too_many_pixels": 413,
    "too_compressed": 413,
    "unsupported": 415,  # Unsupported Media Type
}
_BAD_REQUEST: Final = 400

# Formats as reported in PhotoFacts; Pillow's names for the plugins allowed to open a photo.
_PILLOW_FORMATS: Final = ("JPEG", "PNG", "WEBP", "HEIF")
# Pillow opens JPEGs with a multi-picture extension (common on phones) as "MPO": still a JPEG.
_FORMAT_ALIASES: Final = {"MPO": "JPEG"}

# ISO-BMFF major brands of HEIF still images (HEVC-coded or generic image file).
_HEIF_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)

# EXIF tags (numbers from the EXIF 2.32 specification).
_TAG_ORIENTATION: Final = 0x0112
_TAG_DATETIME: Final = 0x0132  # IFD0 DateTime: when the file was last changed
_TAG_DATETIME_ORIGINAL: Final = 0x9003  # Exif IFD: when the picture was taken
_IFD_EXIF: Final = 0x8769
_IFD_GPS: Final = 0x8825
_GPS_LATITUDE_REF: Final = 1
_GPS_LATITUDE: Final = 2
_GPS_LONGITUDE_REF: Final = 3
_GPS_LONGITUDE: Final = 4
_EXIF_TIME_FORMATS: Final = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S")

# EXIF orientation -> the operation that makes the stored pixels upright.
_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

# Derived images. The display image is at most a 2:1 reduction after the DCT-scaled decode (4000
# px decoded at 2000, shown at 1600). Pillow's Hamming filter is a proper antialiasing
# convolution, sharper than bilinear at the same cost; on one core it takes ~30 ms for that
# step against ~45 ms for bicubic and ~55 ms for Lanczos, which would break the 100 ms budget.
# The thumbnail (a 5:1 reduction of the display image) is box-averaged by the largest whole
# factor first (reducing_gap=1), then filtered for the rest: ~2 ms instead of ~5-8 ms.
RESAMPLE: Final = Image.Resampling.HAMMING
THUMB_REDUCING_GAP: Final = 1.0
DISPLAY_QUALITY: Final = 82
THUMB_QUALITY: Final = 75
_BACKGROUND: Final = (255, 255, 255)  # what transparent pixels become

# Watermark geometry, as fractions of the display image's width unless said otherwise.
_FONT_WIDTH_RATIO: Final = 0.022  # 35 px on a 1600 px wide image
_MIN_FONT_PX: Final = 12  # smaller is unreadable on a phone
_LINE_SPACING: Final = 1.3  # line height as a multiple of the font size
_PADDING_RATIO: Final = 0.5  # band padding as a multiple of the font size
_BAND_FILL: Final = (0, 0, 0, 150)  # black at 59% opacity
_TEXT_FILL: Final = (255, 255, 255, 255)
_SHANGHAI: Final = "Asia/Shanghai"
_SHANGHAI_LABEL: Final = "北京时间"
_NO_POSITION: Final = "无定位"
_NO_POSITION_ASCII: Final = "no location"
_ELLIPSIS: Final = "…"
# Noto CJK collections hold the faces in the order JP, KR, SC, TC, HK: index 2 is Simplified.
_NOTO_CJK_TTC: Final = re.compile(r"Noto(Sans|Serif)CJK.*\.ttc", re.IGNORECASE)
_NOTO_CJK_SC_INDEX: Final = 2

_METRES_PER_DEGREE: Final = EARTH_RADIUS_M * math.pi / 180
_HASH_HEX_DIGITS: Final = 16  # a 64-bit imagehash as hex
_BYTES_PER_MB: Final = 1024 * 1024
_PIXELS_PER_MEGAPIXEL: Final = 1_000_000
_OPEN_LOCK: Final = threading.Lock()  # see _pillow_open

# Failures Pillow and its plugins raise on malformed input while opening or decoding.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    RuntimeError,
    struct.error,
)


class PhotoRejected(Exception):
    """The file cannot be used as a photo; `status` is the HTTP status to answer with.

    `msgid` (English, marked for extraction) and `params` let the caller translate the
    reason (`gettext(msgid) % params`); `message` is the English text; `detail` what the
    decoder said, for the log only."""

    def __init__(
        self, code: RejectionCode, msgid: str, detail: str = "", **params: str | int
    ) -> None:
        super().__init__(msgid % params if params else msgid)
        self.code: str = code
        self.status: int = _STATUS.get(code, _BAD_REQUEST)
        self.msgid: str = msgid
        self.params: dict[str, str | int] = params
        self.message: str = msgid % params if params else msgid
        self.detail: str = detail

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class PhotoFacts:
    format: str  # "JPEG" | "PNG" | "WEBP" | "HEIF"
    width: int  # upright, after the EXIF orientation
    height: int
    orientation: int | None  # EXIF Orientation 1-8, None if absent
    gps: tuple[float, float] | None  # (latitude, longitude), signed degrees
    taken_at: datetime | None  # EXIF DateTimeOriginal (else DateTime), naive camera time
    sha256: str  # of the bytes as received


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000  # width * height from the header, checked before decoding
    # What a decode may cost, checked from the header too: the pixels actually decoded (a JPEG
    # at its DCT-scaled size, any other format in full: 4 bytes each), and how many of them a
    # byte of the file may unfold into beyond `ratio_floor_pixels` (a 7 KB PNG of 7,740 x
    # 7,740 is 8,500 pixels a byte; camera photos are under 50, a flat screenshot ~150).
    max_decoded_pixels: int = 25_000_000
    max_pixels_per_byte: float = 250.0
    ratio_floor_pixels: int = 4_000_000
    display_px: int = 1600  # longest side of the display image
    thumb_px: int = 320  # longest side of the thumbnail
    outside_buffer_m: float = 200.0  # tolerance around the supervisor's grid
    max_accuracy_m: float = 100.0  # browser fix accuracy worse than this is flagged
    max_time_skew: timedelta = timedelta(minutes=10)  # EXIF time vs capture time
    max_fix_distance_m: float = 500.0  # EXIF position vs browser fix
    duplicate_distance: int = 6  # phash Hamming distance at or under which photos match


DEFAULT_LIMITS: Final = Limits()
# What a member of the public may send (the complaint form): smaller files, fewer pixels.
ANONYMOUS_LIMITS: Final = Limits(
    max_bytes=10 * 1024 * 1024,
    max_pixels=24_000_000,
    max_decoded_pixels=12_000_000,
    max_pixels_per_byte=100.0,
    ratio_floor_pixels=2_000_000,
)


@dataclass(frozen=True)
class Capture:
    """What the server knows about the moment of capture, besides the file."""

    captured_at: datetime  # naive UTC, by the app's (corrected) clock
    fix: tuple[float, float] | None  # browser Geolocation (lat, lon), WGS-84
    fix_accuracy_m: float | None
    grid_area: BaseGeometry | None  # the supervisor's grid, lon/lat WGS-84
    grid_name: str
    supervisor_name: str
    timezone: tzinfo  # for the watermark and to compare with camera (local) times
    reported_gps: tuple[float, float] | None = None  # EXIF read on the phone from the original
    reported_taken_at: datetime | None = None  # idem, DateTimeOriginal (naive local)
    reported_sha256: str | None = None  # of the original, computed on the phone
    known_hashes: Sequence[tuple[str, str]] = ()  # (reference, phash hex) in other records


@dataclass(frozen=True)
class Flag:
    code: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessedPhoto:
    facts: PhotoFacts
    original: bytes  # exactly the bytes received
    display: bytes  # JPEG, upright, watermarked, longest side <= display_px
    thumbnail: bytes  # JPEG, upright, longest side <= thumb_px
    phash: str  # imagehash.phash hex (64 bits) of the upright thumbnail
    position: tuple[float, float] | None  # browser fix, else file EXIF, else reported EXIF
    sources: dict[str, str]  # {"position": ..., "taken_at": ...}
    flags: tuple[Flag, ...]
    watermark_font: str | None  # None when the built-in fallback font was used


# --- opening and facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Opened:
    image: Image.Image  # opened, pixels not decoded
    facts: PhotoFacts
    transpose: Image.Transpose | None  # still to apply after decoding


def _one_decimal(value: float, up: bool) -> str:
    """`value` to one decimal, rounded up or down (so that a size over a limit never reads as
    the limit itself), without a trailing ".0"."""
    tenths = math.ceil(value * 10 - 1e-9) if up else math.floor(value * 10 + 1e-9)
    return f"{tenths / 10:.1f}".removesuffix(".0")


def _megabytes(n: int, up: bool = True) -> str:
    return _one_decimal(n / _BYTES_PER_MB, up)


def _megapixels(n: int, up: bool = True) -> str:
    return _one_decimal(n / _PIXELS_PER_MEGAPIXEL, up)


def _kilobytes(n: int) -> str:
    return _one_decimal(n / 1024, True)


def _sniff(data: bytes) -> str | None:
    """The format the first bytes announce, or None for anything that is not an accepted photo."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _check_size(data: bytes, limits: Limits) -> None:
    if not data:
        raise PhotoRejected("empty", N_("The file is empty."))
    if len(data) > limits.max_bytes:
        raise PhotoRejected(
            "too_large",
            N_("The file is %(size)s MB; the limit is %(limit)s MB."),
            size=_megabytes(len(data)),
            limit=_megabytes(limits.max_bytes, up=False),
        )


def _too_many_pixels(pixels: int, limit: int, size: tuple[int, int] | None = None) -> PhotoRejected:
    if size is None:
        return PhotoRejected(
            "too_many_pixels",
            N_("The image has %(pixels)s megapixels; the limit is %(limit)s megapixels."),
            pixels=_megapixels(pixels),
            limit=_megapixels(limit, up=False),
        )
    return PhotoRejected(
        "too_many_pixels",
        N_(
            "The image has %(width)s × %(height)s pixels (%(pixels)s megapixels); "
            "the limit is %(limit)s megapixels."
        ),
        width=size[0],
        height=size[1],
        pixels=_megapixels(pixels),
        limit=_megapixels(limit, up=False),
    )


def _decoded_pixels(fmt: str, size: tuple[int, int], limits: Limits) -> int:
    """How many pixels decoding will produce: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size
    while still at least the display size (libjpeg's DCT scaling, as Image.draft does it);
    other formats have no such shortcut."""
    width, height = size
    if fmt != "JPEG":
        return width * height
    target = _fit(size, limits.display_px)
    reduction = min(width // target[0], height // target[1])
    scale = next(s for s in (8, 4, 2, 1) if reduction >= s)
    return -(-width // scale) * -(-height // scale)


def _check_cost(fmt: str, size: tuple[int, int], data: bytes, limits: Limits) -> None:
    """Refuse, from the header, a file whose decoding would cost far more than its size says:
    too many pixels to decode, or too many for the bytes (a decompression bomb)."""
    decoded = _decoded_pixels(fmt, size, limits)
    if decoded > limits.max_decoded_pixels:
        raise _too_many_pixels(size[0] * size[1], limits.max_decoded_pixels, size)
    if decoded > limits.ratio_floor_pixels and decoded > limits.max_pixels_per_byte * len(data):
        raise PhotoRejected(
            "too_compressed",
            N_(
                "The image claims %(width)s × %(height)s pixels in a file of only %(size)s KB; "
                "send the photo as the camera made it."
            ),
            width=size[0],
            height=size[1],
            size=_kilobytes(len(data)),
        )


def _pillow_open(data: bytes, limits: Limits) -> Image.Image:
    # Pillow's own guard, from the same limit: it warns above MAX_IMAGE_PIXELS and raises above
    # twice that; the warning is turned into an exception so that nothing over the limit gets
    # through. Both settings are process-wide, so they are changed under a lock and restored.
    # The explicit check in _open is the one that decides.
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = limits.max_pixels
            try:
                return Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(int(match.group(1)) if match else 0, limits.max_pixels) from None
    except UnidentifiedImageError:
        raise PhotoRejected(
            "corrupt", N_("The file looks like an image but its header cannot be read.")
        ) from None
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            "corrupt", N_("The image header is damaged."), detail=repr(exc)
        ) from None


def _exif(image: Image.Image) -> Image.Exif | None:
    """The EXIF block, without decoding pixels; None if absent or unreadable."""
    try:
        if image.format == "PNG":
            # PngImageFile.getexif() decodes the whole image to look for an eXIf chunk after the
            # pixel data; only the chunks before it (read when opening) are used here.
            raw = image.info.get("exif")
            if not isinstance(raw, bytes):
                return None
            exif = Image.Exif()
            exif.load(raw)
            return exif
        return image.getexif()
    except Exception:  # malformed EXIF means no EXIF, never a refusal
        return None


def _orientation(image: Image.Image, exif: Image.Exif | None) -> int | None:
    # pillow-heif applies the HEIF transforms while decoding and resets the EXIF tag to 1,
    # keeping the original value aside.
    value = image.info.get("original_orientation") if image.format == "HEIF" else None
    if value is None and exif is not None:
        value = exif.get(_TAG_ORIENTATION)
    return value if isinstance(value, int) and value in range(1, 9) else None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 \t")


def _degrees(value: object, limit: float) -> float | None:
    """Degrees, minutes, seconds (EXIF rationals) -> unsigned decimal degrees, None if invalid."""
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = [float(v) for v in value]  # raises on text: the caller treats that as invalid
    parts += [0.0] * (3 - len(parts))
    d, m, s = parts
    # Minutes and seconds below 60 (60 itself tolerated: some cameras round up).
    if not all(math.isfinite(p) and p >= 0 for p in parts) or m > 60 or s > 60:
        return None
    degrees = d + m / 60 + s / 3600
    return degrees if degrees <= limit else None


def _gps(exif: Image.Exif | None) -> tuple[float, float] | None:
    if exif is None:
        return None
    try:
        gps = exif.get_ifd(_IFD_GPS)
        lat = _degrees(gps.get(_GPS_LATITUDE), 90.0)
        lon = _degrees(gps.get(_GPS_LONGITUDE), 180.0)
        lat_ref = _text(gps.get(_GPS_LATITUDE_REF))
        lon_ref = _text(gps.get(_GPS_LONGITUDE_REF))
    except Exception:  # corrupt GPS means no GPS
        return None
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    return (-lat if lat_ref == "S" else lat, -lon if lon_ref == "W" else lon)


def _parse_exif_time(value: object) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    for fmt in _EXIF_TIME_FORMATS:
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    return None


def _taken_at(exif: Image.Exif | None) -> datetime | None:
    if exif is None:
        return None
    try:
        original = exif.get_ifd(_IFD_EXIF).get(_TAG_DATETIME_ORIGINAL)
        changed = exif.get(_TAG_DATETIME)
    except Exception:  # corrupt EXIF means no time
        return None
    return _parse_exif_time(original) or _parse_exif_time(changed)


_NOT_A_PHOTO: Final = N_("The file is not a JPEG, PNG, WebP or HEIC image.")


def _open(data: bytes, limits: Limits) -> _Opened:
    _check_size(data, limits)
    if _sniff(data) is None:
        raise PhotoRejected("unsupported", _NOT_A_PHOTO)
    image = _pillow_open(data, limits)
    width, height = image.size
    if width * height > limits.max_pixels:
        raise _too_many_pixels(width * height, limits.max_pixels, (width, height))
    if width < 1 or height < 1:
        raise PhotoRejected(
            "corrupt",
            N_("The image header gives an empty size %(width)s × %(height)s."),
            width=width,
            height=height,
        )
    fmt = _FORMAT_ALIASES.get(str(image.format), str(image.format))
    if fmt not in _PILLOW_FORMATS:
        raise PhotoRejected("unsupported", _NOT_A_PHOTO)
    _check_cost(fmt, (width, height), data, limits)
    exif = _exif(image)
    orientation = _orientation(image, exif)
    # HEIF pixels come out of the decoder already upright (see _orientation).
    transpose = None if fmt == "HEIF" or orientation is None else _TRANSPOSE.get(orientation)
    if transpose is not None and orientation in _SWAPS_AXES:
        width, height = height, width
    facts = PhotoFacts(
        format=fmt,
        width=width,
        height=height,
        orientation=orientation,
        gps=_gps(exif),
        taken_at=_taken_at(exif),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return _Opened(image, facts, transpose)


def read_facts(data: bytes, limits: Limits = DEFAULT_LIMITS) -> PhotoFacts:
    """The facts of a photo from its header and EXIF, without decoding the pixels."""
    return _open(data, limits).facts


# --- images -----------------------------------------------------------------------------------


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longest side is at most `longest`."""
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, _BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _decode(opened: _Opened, limits: Limits) -> Image.Image:
    """The upright image at display size (longest side <= display_px), fully decoded."""
    image = opened.image
    stored = image.size
    target = _fit(stored, limits.display_px)
    if opened.facts.format == "JPEG":
        # libjpeg's DCT scaling: decode at 1/2, 1/4 or 1/8 while still >= target.
        image.draft("RGB", target)
    try:
        image.load()  # a truncated file raises: ImageFile.LOAD_TRUNCATED_IMAGES stays False
        rgb = _to_rgb(image)
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            "corrupt", N_("The image data is damaged or incomplete."), detail=repr(exc)
        ) from None
    if rgb.size != target:
        rgb = rgb.resize(target, RESAMPLE)
    if opened.transpose is not None:
        rgb = rgb.transpose(opened.transpose)
    return rgb


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # Only what is passed here is written: no EXIF, XMP or comment from the original.
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- watermark --------------------------------------------------------------------------------

Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    index = _NOTO_CJK_SC_INDEX if _NOTO_CJK_TTC.fullmatch(os.path.basename(path)) else 0
    # FreeTypeFont itself, not ImageFont.truetype: that one, when the path does not exist, looks
    # for a font of the same file name in the system's font folders.
    return ImageFont.FreeTypeFont(path, size, index=index)


@functools.lru_cache(maxsize=64)
def _builtin(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _zone_label(local: datetime, ascii_only: bool) -> str:
    key = getattr(local.tzinfo, "key", None)
    if not ascii_only and key == _SHANGHAI:
        return _SHANGHAI_LABEL
    if isinstance(key, str) and key.isascii():
        return key
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _local(moment: datetime, zone: tzinfo) -> datetime:
    """A naive UTC datetime (or an aware one) in `zone`, aware."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def _coordinates(position: tuple[float, float] | None, ascii_only: bool) -> str:
    if position is None:
        return _NO_POSITION_ASCII if ascii_only else _NO_POSITION
    lat, lon = position
    degree = "" if ascii_only else "°"
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.6f}{degree}{ns} {abs(lon):.6f}{degree}{ew}"


def watermark_lines(
    capture: Capture, position: tuple[float, float] | None, ascii_only: bool = False
) -> list[str]:
    """The watermark text: time, coordinates and (unless ASCII-only) grid and supervisor."""
    local = _local(capture.captured_at, capture.timezone)
    lines = [
        f"{local:%Y-%m-%d %H:%M:%S} {_zone_label(local, ascii_only)}",
        _coordinates(position, ascii_only),
    ]
    if not ascii_only:
        lines.append(f"网格：{capture.grid_name}  监督员：{capture.supervisor_name}")
    return lines


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: Font) -> float:
    return draw.textlength(text, font=font)


def _fit_lines(draw: ImageDraw.ImageDraw, lines: list[str], font: Font, room: float) -> list[str]:
    """Cut lines still too wide at the smallest font, with an ellipsis."""
    fitted = []
    for line in lines:
        while len(line) > 1 and _text_width(draw, line, font) > room:
            line = line[:-2] + _ELLIPSIS
        fitted.append(line)
    return fitted


def _burn_watermark(
    image: Image.Image,
    capture: Capture,
    position: tuple[float, float] | None,
    font_path: str | None,
) -> str | None:
    """Draw the watermark bottom-left, in place; the font file used, None for the fallback."""
    width, height = image.size
    size = max(_MIN_FONT_PX, round(width * _FONT_WIDTH_RATIO))
    used: str | None = None
    try:
        if font_path is None:
            raise OSError("no font given")
        font: Font = _truetype(font_path, size)
        used = font_path
    except (OSError, ValueError):  # missing, unreadable or not a font: never fail the photo
        font = _builtin(size)
    lines = watermark_lines(capture, position, ascii_only=used is None)
    draw = ImageDraw.Draw(image, "RGBA")  # RGBA fills blend onto the RGB image
    pad = size * _PADDING_RATIO
    room = width - 2 * pad
    widest = max(_text_width(draw, line, font) for line in lines)
    if widest > room:
        smaller = max(_MIN_FONT_PX, math.floor(size * room / widest))
        if smaller != size:
            size = smaller
            font = _truetype(font_path, size) if used and font_path else _builtin(size)
            pad = size * _PADDING_RATIO
            room = width - 2 * pad
        lines = _fit_lines(draw, lines, font, room)
        widest = max(_text_width(draw, line, font) for line in lines)
    line_height = size * _LINE_SPACING
    band_height = len(lines) * line_height + 2 * pad
    top = max(0.0, height - band_height)
    draw.rectangle((0, top, min(width, widest + 2 * pad), height), fill=_BAND_FILL)
    for i, line in enumerate(lines):
        draw.text((pad, top + pad + i * line_height), line, font=font, fill=_TEXT_FILL)
    return used


# --- flags ------------------------------------------------------------------------------------


def distance_to_area_m(lat: float, lon: float, area: BaseGeometry) -> float:
    """Metres from a point to an area (0 inside, infinite for an empty area), on an
    equirectangular projection centred on the point: exact enough at the scale of a grid."""
    if area.is_empty:
        return math.inf
    if area.covers(Point(lon, lat)):
        return 0.0
    kx = _METRES_PER_DEGREE * math.cos(math.radians(lat))
    ky = _METRES_PER_DEGREE
    local = shapely.transform(area, lambda c: (c - (lon, lat)) * (kx, ky))
    return float(local.distance(Point(0.0, 0.0)))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle metres between two (lat, lon) points."""
    return haversine_m(a[1], a[0], b[1], b[0])


def _hamming(a: str, b: str) -> int | None:
    if len(a) != _HASH_HEX_DIGITS or len(b) != _HASH_HEX_DIGITS:
        return None
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def _round(value: float) -> float:
    return round(value, 1)


def _flags(
    facts: PhotoFacts,
    capture: Capture,
    limits: Limits,
    position: tuple[float, float] | None,
    phash: str,
) -> list[Flag]:
    flags: list[Flag] = []
    exif_position = facts.gps or capture.reported_gps
    exif_time = facts.taken_at or capture.reported_taken_at
    if exif_time is not None and exif_time.tzinfo is not None:  # naive expected; be lenient
        exif_time = exif_time.astimezone(capture.timezone).replace(tzinfo=None)
    if position is None:
        flags.append(Flag("no_location", {}))
    elif capture.grid_area is not None and not capture.grid_area.is_empty:
        outside = distance_to_area_m(position[0], position[1], capture.grid_area)
        if outside > limits.outside_buffer_m:
            flags.append(Flag("outside_grid", {"distance_m": _round(outside)}))
    if capture.fix_accuracy_m is not None and capture.fix_accuracy_m > limits.max_accuracy_m:
        flags.append(Flag("poor_accuracy", {"accuracy_m": _round(capture.fix_accuracy_m)}))
    if exif_time is not None:
        # Camera clocks keep local time: compare with the capture time in the same zone.
        local = _local(capture.captured_at, capture.timezone).replace(tzinfo=None)
        difference = (exif_time - local).total_seconds()  # negative: taken before the capture
        if abs(difference) > limits.max_time_skew.total_seconds():
            flags.append(Flag("time_mismatch", {"difference_s": _round(difference)}))
    if exif_position is not None and capture.fix is not None:
        apart = distance_m(exif_position, capture.fix)
        if apart > limits.max_fix_distance_m:
            flags.append(Flag("exif_far_from_fix", {"distance_m": _round(apart)}))
    closest: tuple[int, str] | None = None
    for reference, known in capture.known_hashes:
        bits = _hamming(phash, known)
        if bits is not None and bits <= limits.duplicate_distance:
            if closest is None or bits < closest[0]:
                closest = (bits, reference)
    if closest is not None:
        flags.append(Flag("duplicate", {"reference": closest[1], "distance": closest[0]}))
    return flags


# --- the pipeline -----------------------------------------------------------------------------


def process(
    data: bytes,
    capture: Capture,
    limits: Limits = DEFAULT_LIMITS,
    font_path: str | None = DEFAULT_FONT,
) -> ProcessedPhoto:
    """Validate, decode, derive and flag one photo; raises PhotoRejected."""
    opened = _open(data, limits)
    facts = opened.facts
    display = _decode(opened, limits)
    thumb = display.resize(
        _fit(display.size, limits.thumb_px), RESAMPLE, reducing_gap=THUMB_REDUCING_GAP
    )
    phash = str(imagehash.phash(thumb))

    sources: dict[str, str] = {}
    position: tuple[float, float] | None = None
    for candidate, source in (
        (capture.fix, "browser"),
        (facts.gps, "exif"),
        (capture.reported_gps, "reported_exif"),
    ):
        if candidate is not None:
            position, sources["position"] = candidate, source
            break
    if facts.taken_at is not None:
        sources["taken_at"] = "exif"
    elif capture.reported_taken_at is not None:
        sources["taken_at"] = "reported_exif"

    flags = _flags(facts, capture, limits, position, phash)
    used_font = _burn_watermark(display, capture, position, font_path)
    if used_font is None:
        flags.append(Flag("watermark_font_missing", {"font_path": font_path}))

    return ProcessedPhoto(
        facts=facts,
        original=data,
        display=_encode(display, DISPLAY_QUALITY),
        thumbnail=_encode(thumb, THUMB_QUALITY),
        phash=phash,
        position=position,
        sources=sources,
        flags=tuple(flags),
        watermark_font=used_font,
    )
