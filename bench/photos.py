"""Photo processing time: a 12-megapixel phone JPEG through `evidence.photos.process`, on one core,
against the naive pipeline (full decode, then turn upright, then resize) doing the same steps."""

import contextlib
import importlib.util
import io
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import imagehash
import numpy as np
from PIL import Image, ImageOps

from bench.common import Context, CpuMeter, median, met, table

WIDTH, HEIGHT = 4000, 3000  # as stored; EXIF orientation 6 makes them 3000 × 4000 upright
SEEDS = (11, 12, 13)  # three different pictures
NOISE = 16  # grey levels of sensor-like noise: 3-5 MB at q90, like a phone photo
QUALITY = 90
ORIENTATION = 6
GPS = (44.012345, 87.300123)
RUNS = 15  # per photo and pipeline, after one warm-up of each
TARGET_MS = 100.0
TARGET_SPEEDUP = 2.0


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this process to its first allowed CPU for the duration (None where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def _photos() -> list[bytes]:
    from tests.photo_corpus import exif, jpeg, realistic

    block = exif(orientation=ORIENTATION, gps=GPS, taken_at=datetime(2026, 11, 22, 19, 30, 5))
    return [jpeg(realistic(WIDTH, HEIGHT, seed, noise=NOISE), block, QUALITY) for seed in SEEDS]


def _capture():
    from evidence.photos import Capture

    return Capture(
        captured_at=datetime(2026, 11, 22, 11, 30, 5),
        fix=GPS,
        fix_accuracy_m=8.0,
        grid_area=None,
        grid_name="三工镇头工村",
        supervisor_name="张三",
        timezone=ZoneInfo("Asia/Shanghai"),
    )


def naive(data: bytes, capture) -> tuple[bytes, bytes, str]:
    """The same steps the obvious way: decode everything, turn upright, then resize."""
    from evidence import photos

    limits = photos.DEFAULT_LIMITS
    facts = photos.read_facts(data, limits)
    image = Image.open(io.BytesIO(data))
    image.load()
    upright = ImageOps.exif_transpose(image).convert("RGB")
    display = upright.resize(photos._fit(upright.size, limits.display_px), photos.RESAMPLE)
    thumb = display.resize(
        photos._fit(display.size, limits.thumb_px),
        photos.RESAMPLE,
        reducing_gap=photos.THUMB_REDUCING_GAP,
    )
    phash = str(imagehash.phash(thumb))
    position = capture.fix or facts.gps
    photos._burn_watermark(display, capture, position, photos.DEFAULT_FONT)
    return (
        photos._encode(display, photos.DISPLAY_QUALITY),
        photos._encode(thumb, photos.THUMB_QUALITY),
        phash,
    )


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _before_pipeline(ctx: Context):
    """The photo pipeline of the code before a change (`make bench BEFORE=rev`), loaded from its
    checkout under a name of its own; None when there is nothing to compare with."""
    if ctx.before_root is None:
        return None
    for relative in ("evidence/photos.py", "patrol/photos.py"):  # where it was, before the move
        path = ctx.before_root / relative
        if path.exists():
            spec = importlib.util.spec_from_file_location("bench_before_photos", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up there
            spec.loader.exec_module(module)
            return module
    return None


def _measure(files: list[bytes], before) -> dict:
    from evidence import photos

    capture = _capture()
    per_photo = []
    with CpuMeter() as meter:
        for data in files:
            fast_result = photos.process(data, capture)  # warm-up (font, scipy import, caches)
            naive_display, _, naive_phash = naive(data, capture)
            fast, slow, old = [], [], []
            if before is not None:
                before.process(data, before.Capture(**vars(capture)))
            for _ in range(RUNS):  # alternate, so that drift affects both alike
                fast.append(_time(lambda d=data: photos.process(d, capture)))
                slow.append(_time(lambda d=data: naive(d, capture)))
                if before is not None:
                    old_capture = before.Capture(**vars(capture))
                    old.append(_time(lambda d=data, c=old_capture: before.process(d, c)))
            a = np.asarray(Image.open(io.BytesIO(fast_result.display)), dtype=np.int16)
            b = np.asarray(Image.open(io.BytesIO(naive_display)), dtype=np.int16)
            hash_bits = imagehash.hex_to_hash(fast_result.phash) - imagehash.hex_to_hash(
                naive_phash
            )
            per_photo.append(
                {
                    "bytes": len(data),
                    "facts": fast_result.facts,
                    "display": Image.open(io.BytesIO(fast_result.display)).size,
                    "display_bytes": len(fast_result.display),
                    "thumb_bytes": len(fast_result.thumbnail),
                    "fast": fast,
                    "slow": slow,
                    "before": old,
                    "difference": float(np.abs(a - b).mean()),
                    "hash_bits": int(hash_bits),
                }
            )
    return {"photos": per_photo, "other_share": meter.other_share, "steal": meter.steal_share}


def run(ctx: Context) -> str:
    files = _photos()
    before = _before_pipeline(ctx)
    with one_core() as cpu:
        result = _measure(files, before)
    shots = result["photos"]
    all_fast = [t for p in shots for t in p["fast"]]
    all_slow = [t for p in shots for t in p["slow"]]
    fast_ms, slow_ms = median(all_fast) * 1000, median(all_slow) * 1000
    speedup = slow_ms / fast_ms
    rows = []
    for seed, p in zip(SEEDS, shots, strict=True):
        facts = p["facts"]
        f, s = median(p["fast"]) * 1000, median(p["slow"]) * 1000
        rows.append(
            (
                f"seed {seed}",
                f"{p['bytes'] / 1024 / 1024:.2f} MB",
                f"{WIDTH * HEIGHT / 1e6:.1f} MP, orientation {facts.orientation}",
                f"{p['display'][0]}×{p['display'][1]}, {p['display_bytes'] / 1024:.0f} KB",
                f"{p['thumb_bytes'] / 1024:.1f} KB",
                f"{f:.1f}",
                f"{s:.1f}",
                f"{s / f:.2f}",
                f"{p['difference']:.2f}",
                str(p["hash_bits"]),
            )
        )
    total = ("all", "", "", "", "", f"**{fast_ms:.1f}**", f"{slow_ms:.1f}", f"**{speedup:.2f}**")
    rows.append((*total, "", ""))
    targets = [
        (
            f"≤ {TARGET_MS:.0f} ms per 12-megapixel photo on one core",
            f"{fast_ms:.1f} ms",
            met(fast_ms <= TARGET_MS),
        ),
        (
            f"≥ {TARGET_SPEEDUP:.0f}× faster than the naive pipeline",
            f"{speedup:.2f}×",
            met(speedup >= TARGET_SPEEDUP),
        ),
    ]
    before_note = ""
    if before is not None:
        old_ms = median([t for p in shots for t in p["before"]]) * 1000
        before_note = (
            f"\nThe pipeline of the code before ({ctx.before_label()}), loaded from its checkout "
            f"and run in the same alternation: {old_ms:.1f} ms, now / before "
            f"{fast_ms / old_ms:.1%}.\n"
        )
    header = (
        "Photo",
        "File",
        "Pixels",
        "Display",
        "Thumbnail",
        "`process` ms",
        "naive ms",
        "× faster",
        "Display diff",
        "phash bits",
    )
    where = f"pinned to CPU {cpu}" if cpu is not None else "not pinned (no sched_setaffinity)"
    return f"""\
## Photo processing (`bench/photos.py`)

One phone photo through `evidence.photos.process`: validation, EXIF facts, decoding, the upright
display image (longest side 1600 px) with its burnt-in watermark, the 320 px thumbnail, the
perceptual hash, flags, and both JPEG encodes. Measured in this process, {where}.

- **Photos:** {len(SEEDS)} different synthetic 12-megapixel JPEGs (gradients, sensor-like noise,
  shapes) stored {WIDTH}×{HEIGHT} with EXIF orientation {ORIENTATION} and GPS, saved at quality
  {QUALITY}.
- **`process`:** decodes with libjpeg's DCT scaling (`Image.draft`) at half size, resizes once
  ({photos_resample()}), then turns the small image upright.
- **Naive:** the same steps the obvious way: full decode, `ImageOps.exif_transpose` on the full
  image, resize with the same filter, then the same thumbnail, hash, watermark and encodes.
- **Repeats:** {RUNS} runs per photo and pipeline, alternating, after one warm-up of each;
  medians. Other processes used {result["other_share"]:.0%} of the machine's CPU meanwhile,
  the hypervisor's steal {result["steal"]:.0%}.
- **Display diff:** mean absolute difference (grey levels, 0-255) between the two pipelines'
  display images; **phash bits:** Hamming distance between their perceptual hashes.

{table(header, rows)}

{table(("Target", "Measured", ""), targets)}
{before_note}"""


def photos_resample() -> str:
    from evidence import photos

    return f"{photos.RESAMPLE.name.lower()} filter"
