"""Time to sync a phone's queue: 50 patrol items with 3 photos each, through the real endpoints
of the app served by gunicorn, as static/js/queue.js sends them (a fresh token, the items in one
batch, then the photos one by one)."""

import contextlib
import io
import json
import random
import tempfile
import time
import urllib.request
import uuid

from PIL import Image

from bench.common import ROOT, Context, gunicorn, gunicorn_config, median, met, table
from bench.http import log_in

ITEMS = 50  # visits queued on the phone
PHOTOS_PER_ITEM = 3
REPEATS = 3
PHOTO_PX = (1600, 1200)  # what the phone sends after shrinking (static/js/patrol.js)


def phone_photo(rng: random.Random) -> bytes:
    """A JPEG like a shrunk phone photo: textured, not a flat colour (~200-400 KB)."""
    image = Image.effect_noise(PHOTO_PX, 40).convert("RGB")
    tint = Image.new("RGB", PHOTO_PX, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = Image.blend(image, tint, 0.5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _stamp(boot: str, t0: float) -> dict:
    return {
        "device_ms": int(time.time() * 1000),
        "elapsed_ms": (time.monotonic() - t0) * 1000,
        "boot": boot,
    }


def _multipart(fields: dict[str, str], data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
    )
    parts.append(data + b"\r\n" + f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _call(base, cookie, path, body=None, content_type=None, token=None):
    headers = {"Cookie": f"session={cookie}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["X-CSRFToken"] = token
    request = urllib.request.Request(base + path, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read())


def one_sync(
    base: str, cookie: str, village: int, sources: list[int], photos: list[bytes]
) -> tuple[float, list[float]]:
    """Queue a patrol of ITEMS visits with photos, then send it all; (seconds, photo times)."""
    boot, t0 = str(uuid.uuid4()), time.monotonic()
    patrol = str(uuid.uuid4())
    items = [
        {
            "client_id": patrol,
            "kind": "patrol.start",
            "data": {"grid_id": village},
            **_stamp(boot, t0),
        }
    ]
    for i in range(ITEMS):
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "kind": "visit",
                "data": {
                    "patrol": patrol,
                    "source_id": sources[i % len(sources)],
                    "outcome": "normal",
                },
                **_stamp(boot, t0),
            }
        )
    started = time.perf_counter()
    _status, body = _call(base, cookie, "/sync/token")
    token = body["csrf_token"]
    status, body = _call(
        base,
        cookie,
        "/sync/items",
        json.dumps({"sent": _stamp(boot, t0), "items": items}).encode(),
        "application/json",
        token,
    )
    assert status == 200 and all(r["status"] == 201 for r in body["results"]), body
    photo_times = []
    for n, item in enumerate(items[1:]):
        for k in range(PHOTOS_PER_ITEM):
            fields = {
                "client_id": str(uuid.uuid4()),
                "parent_kind": "visit",
                "parent_client_id": item["client_id"],
                "stamp": json.dumps(_stamp(boot, t0)),
                "sent": json.dumps(_stamp(boot, t0)),
            }
            data, content_type = _multipart(fields, photos[(n * PHOTOS_PER_ITEM + k) % len(photos)])
            t = time.perf_counter()
            status, body = _call(base, cookie, "/sync/photos", data, content_type, token)
            photo_times.append(time.perf_counter() - t)
            assert status == 201, body
    return time.perf_counter() - started, photo_times


def run(ctx: Context) -> str:
    import sqlalchemy as sa

    from extensions import db
    from grid.models import Membership, Role, User
    from sources.models import Source

    with ctx.app(ctx.sqlite_url).app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "cun"))
        village = db.session.scalar(
            sa.select(Membership.grid_id).where(
                Membership.user_id == user.id, Membership.role == Role.SUPERVISOR
            )
        )
        sources = list(
            db.session.scalars(
                sa.select(Source.id).where(Source.grid_id == village, Source.status == "active")
            )
        )
        db.session.remove()
    rng = random.Random(7)
    photos = [phone_photo(rng) for _ in range(ITEMS * PHOTOS_PER_ITEM)]
    sizes = sorted(len(p) for p in photos)
    storage = tempfile.mkdtemp(prefix="gridpatrol-bench-photos-")
    env = ctx.env(
        ctx.sqlite_url,
        GRIDPATROL_SESSION_COOKIE_SECURE="false",
        GRIDPATROL_PHOTO_STORAGE_DIR=json.dumps(storage),
    )
    servers = {"now": (ROOT, env)}
    if ctx.before_root is not None:  # the code before a change, on its own demo database
        before_storage = tempfile.mkdtemp(prefix="gridpatrol-bench-photos-before-")
        servers["before"] = (
            ctx.before_root,
            ctx.env(
                ctx.before_sqlite_url,
                ctx.before_root,
                GRIDPATROL_SESSION_COOKIE_SECURE="false",
                GRIDPATROL_PHOTO_STORAGE_DIR=json.dumps(before_storage),
            ),
        )
    totals: dict[str, list[float]] = {w: [] for w in servers}
    per_photo: dict[str, list[float]] = {w: [] for w in servers}
    with contextlib.ExitStack() as stack:
        bases = {
            w: stack.enter_context(gunicorn("app:create_app()", e, probe="/login", root=r))
            for w, (r, e) in servers.items()
        }
        cookies = {w: log_in(base) for w, base in bases.items()}
        for w, base in bases.items():
            one_sync(base, cookies[w], village, sources, photos[:6])  # warm-up
        for n in range(REPEATS):
            order = list(bases) if n % 2 == 0 else list(reversed(bases))  # alternate who is first
            for w in order:
                seconds, photo_times = one_sync(bases[w], cookies[w], village, sources, photos)
                totals[w].append(seconds)
                per_photo[w].extend(photo_times)
    count = ITEMS * PHOTOS_PER_ITEM
    labels = {"now": "", "before": f", code before ({ctx.before_label()})"}
    rows = [
        (
            f"{ITEMS} visits + {count} photos{labels[w]}",
            f"{median(totals[w]):.1f} s",
            ", ".join(f"{t:.1f}" for t in totals[w]),
            f"{1000 * median(per_photo[w]):.0f} ms",
            f"{count / median(totals[w]):.1f}",
        )
        for w in servers
    ]
    comparison = ""
    if "before" in servers:
        ratio = median(totals["now"]) / median(totals["before"])
        comparison = (
            f"\nThe code before ({ctx.before_label()}) was served the same way on a demo database "
            f"of its own, the runs alternating: now / before {ratio:.1%} of its time (in "
            "instructions: bench/compare.py).\n"
        )
    return f"""\
## Sync of a phone's queue (`bench/sync.py`)

The time to send what a supervisor queued offline: a patrol start and {ITEMS} visits, each with
{PHOTOS_PER_ITEM} photos ({count} photos of {PHOTO_PX[0]}x{PHOTO_PX[1]} px, shrunk as the phone
shrinks them: {sizes[0] // 1024}-{sizes[-1] // 1024} KB, textured), sent as `static/js/queue.js`
sends them: a fresh token, the items in one batch, then the photos one after another. Every
photo goes through the whole server pipeline (validation, EXIF, display image with watermark,
thumbnail, perceptual hash against the township's recent photos, storage, the database row and
its receipt). Served by `{gunicorn_config()}` on the SpatiaLite demo database, over loopback;
median of {REPEATS} runs after a warm-up.

{table(("Queue", "Time (median)", "Runs (s)", "Per photo (median)", "Photos/s"), rows)}

| Target | Measured | |
| --- | --- | --- |
| every item and photo recorded (201) | {count} photos, {ITEMS + 1} items per run | \
{met(True)} |
{comparison}"""
