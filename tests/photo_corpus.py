"""Test photos, generated in memory with Pillow (no binary files in the repository).

Used by tests/test_photos.py and bench/photos.py.
"""

import io
import struct
import zlib
from datetime import datetime

import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

pillow_heif.register_heif_opener()

RED = (220, 20, 20)
GREEN = (20, 200, 20)
BLUE = (20, 40, 200)

# Stored pixels for each EXIF orientation, from the upright picture: the inverse of what a
# viewer applies (ImageOps.exif_transpose) to show it upright.
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # the viewer rotates 270 (90 clockwise)
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def pattern(width: int = 240, height: int = 160) -> Image.Image:
    """Upright picture: blue, a red block top-left and a green block top-right."""
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, width // 4, height // 4))
    im.paste(GREEN, (width - width // 4, 0, width, height // 4))
    return im


def stored_for(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores with this Orientation tag for the upright picture."""
    op = _STORE[orientation]
    return upright.copy() if op is None else upright.transpose(op)


def realistic(width: int, height: int, seed: int, noise: float = 12.0) -> Image.Image:
    """A photo-like picture: gradients, sensor-like noise and shapes, different per seed (so
    perceptual hashes differ). `noise` (grey levels) sets how hard it is to compress: at q90, 12
    gives ~0.25 byte/pixel, 20 about 0.35."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= width
    y /= height
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
        channels.append(128 + 90 * np.sin(2 * np.pi * (fx * x + fy * y * 0.7) + phase))
    base = np.stack(channels, axis=-1)
    base += rng.normal(0, noise, (height, width, 1)).astype(np.float32)  # luminance noise
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    scale = max(width, height)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(v) for v in rng.integers(scale // 40, scale // 6, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    return im


def dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Unsigned decimal degrees -> EXIF degrees, minutes, seconds (to 1/10000 s)."""
    value = abs(degrees)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return IFDRational(d, 1), IFDRational(m, 1), IFDRational(round(s * 10000), 10000)


def exif(
    orientation: int | None = None,
    gps: tuple[float, float] | None = None,
    taken_at: datetime | None = None,
    changed_at: datetime | None = None,
) -> Image.Exif:
    """An EXIF block with what is given: Orientation, GPS (lat, lon), DateTimeOriginal, DateTime."""
    block = Image.Exif()
    if orientation is not None:
        block[ExifTags.Base.Orientation] = orientation
    if changed_at is not None:
        block[ExifTags.Base.DateTime] = changed_at.strftime("%Y:%m:%d %H:%M:%S")
    if taken_at is not None:
        ifd = block.get_ifd(ExifTags.IFD.Exif)
        ifd[ExifTags.Base.DateTimeOriginal] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    if gps is not None:
        lat, lon = gps
        ifd = block.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        ifd[ExifTags.GPS.GPSLatitude] = dms(lat)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        ifd[ExifTags.GPS.GPSLongitude] = dms(lon)
    return block


def exif_zero_denominator(orientation: int = 1) -> Image.Exif:
    """GPS whose latitude seconds are n/0 (Pillow reads it as NaN)."""
    block = exif(orientation=orientation, gps=(44.0, 87.0))
    ifd = block.get_ifd(ExifTags.IFD.GPSInfo)
    ifd[ExifTags.GPS.GPSLatitude] = (IFDRational(44, 1), IFDRational(1, 1), IFDRational(5, 0))
    return block


def exif_text_latitude(orientation: int = 6) -> bytes:
    """Raw APP1 EXIF whose GPSLatitude is the ASCII text "garbage" (Pillow refuses to write a
    wrong type, so the TIFF structure is built by hand, little-endian)."""

    def entry(tag: int, typ: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")

    ascii_type, short_type, long_type, rational_type = 2, 3, 4, 5
    ifd0_at = 8
    ifd0_size = 2 + 2 * 12 + 4
    gps_at = ifd0_at + ifd0_size
    gps_size = 2 + 4 * 12 + 4
    text_at = gps_at + gps_size
    text = b"garbage\0"
    rationals_at = text_at + len(text)
    ifd0 = (
        struct.pack("<H", 2)
        + entry(0x0112, short_type, 1, struct.pack("<H", orientation))
        + entry(0x8825, long_type, 1, struct.pack("<I", gps_at))
        + struct.pack("<I", 0)
    )
    gps = (
        struct.pack("<H", 4)
        + entry(1, ascii_type, 2, b"N\0")
        + entry(2, ascii_type, len(text), struct.pack("<I", text_at))
        + entry(3, ascii_type, 2, b"E\0")
        + entry(4, rational_type, 3, struct.pack("<I", rationals_at))
        + struct.pack("<I", 0)
    )
    rationals = struct.pack("<6I", 87, 1, 18, 1, 0, 1)
    tiff = b"II*\0" + struct.pack("<I", ifd0_at) + ifd0 + gps + text + rationals
    return b"Exif\0\0" + tiff


def encode(
    im: Image.Image, fmt: str, exif_block: Image.Exif | bytes | None = None, **params: object
) -> bytes:
    """Save to bytes in JPEG, PNG, WEBP or HEIF, with the EXIF block if given."""
    out = io.BytesIO()
    if exif_block is not None:
        params["exif"] = exif_block.tobytes() if isinstance(exif_block, Image.Exif) else exif_block
    if fmt == "JPEG":
        params.setdefault("quality", 90)
    if fmt == "HEIF":
        params.setdefault("quality", 80)
    im.save(out, fmt, **params)
    return out.getvalue()


def jpeg(im: Image.Image, exif_block: Image.Exif | bytes | None = None, quality: int = 90) -> bytes:
    return encode(im, "JPEG", exif_block, quality=quality)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit black PNG of width × height pixels that compresses to a few tens of KB:
    decoded, it would take width*height bytes of memory in Pillow's "1" mode."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte "None", then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# Files that are not photos, with the first bytes of what they are.
NOT_IMAGES = {
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 40,
    "text": "巡查记录：河道排污口，已拍照。\n".encode(),
    "html": b"<!doctype html><title>x</title>",
}


def gif() -> bytes:
    """A real image in a format photos may not use."""
    out = io.BytesIO()
    pattern().save(out, "GIF")
    return out.getvalue()
