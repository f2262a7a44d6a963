"""Lighthouse (mobile, simulated throttling) on the phone pages: /login and /complaint signed out;
the village supervisor's home, patrol page, the alert the county sent him, his problem list and
his to-do list, signed in. Performance, accessibility and best practices on each page. Served as
`make run` serves it (gunicorn.conf.py, the SpatiaLite demo), from the system Chromium; each page
measured RUNS times, medians reported, with the bytes a first visit downloads (map tiles apart)
and what the service worker then fetches in the background.

Lighthouse comes from npm into .bench/lighthouse (12.x: the newest that runs on Node 20). The
report of each page's median run is kept in docs/lighthouse/ as gzip'd JSON;
`python -m bench.lighthouse html REPORT.json.gz OUT.html` renders one as Lighthouse's HTML page.
"""

import contextlib
import gzip
import http.server
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    Context,
    free_port,
    gunicorn_process,
    load_average,
    median,
    met,
    table,
)
from bench.http import LOGIN, USER_AGENT, log_in

LIGHTHOUSE_VERSION = "12"
PREFIX = ROOT / ".bench" / "lighthouse"
REPORTS = ROOT / "docs" / "lighthouse"
CHROMIUM = os.environ.get("GRIDPATROL_CHROMIUM", "/usr/bin/chromium")
RUNS = 3
CATEGORIES = ("performance", "accessibility", "best-practices")
# The filmstrip is 170 KB of JPEGs in every report and plays no part in a score.
SKIP_AUDITS = "screenshot-thumbnails"


@dataclass(frozen=True)
class Page:
    key: str  # the report's file name in docs/lighthouse/
    what: str
    path: str  # "{alert}": the id of the alert sent to the supervisor, made at run time
    signed_in: bool
    field: bool = False  # one of issue 14's field-performance pages


PAGES = (
    Page("login", "log-in page", "/login", False),
    Page("complaint", "public complaint form", "/complaint", False),
    Page("home", "village supervisor's home", "/", True, field=True),
    Page("patrol", "patrol page", "/patrol/", True, field=True),
    Page("alert", "alert sent to him", "/alerts/{alert}", True, field=True),
    Page("problems", "his problem list (问题 tab)", "/problems/", True),
    Page("inbox", "his to-do list", "/problems/inbox", True),
)
TARGET_SCORE = 95  # every category, every page (issues 10 and 14)
TARGET_FIRST_VISIT_KB = 100  # the field pages, map tiles excluded (issue 14)
TARGET_CLS = 0.1
# The 1-minute load average under which the measurement starts, waiting up to QUIET_WAIT_S for
# it: Lighthouse's simulated 4x slower CPU scales what it measures on this one.
QUIET_LOAD = 1.5
QUIET_WAIT_S = 15 * 60
CHROME_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def lighthouse() -> Path:
    """The lighthouse command, installed from npm on first use."""
    binary = PREFIX / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(PREFIX), f"lighthouse@{LIGHTHOUSE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return binary


# --- what the pages need ----------------------------------------------------------------------


def tile_png() -> bytes:
    """A 256 px map tile drawn like a rural OpenStreetMap one (fields, water, roads): about 9 KB
    of PNG, always the same."""
    from PIL import Image, ImageDraw

    rng = random.Random(256)  # noqa: S311 - a drawing, not a secret
    image = Image.new("RGB", (256, 256), (242, 239, 233))
    draw = ImageDraw.Draw(image)
    colours = [(205, 235, 176), (170, 211, 223), (224, 223, 223), (217, 208, 201)]
    for _ in range(40):
        x, y = rng.randrange(256), rng.randrange(256)
        size = (rng.randrange(8, 40), rng.randrange(8, 40))
        draw.rectangle([x, y, x + size[0], y + size[1]], fill=rng.choice(colours))
    for _ in range(12):
        road = [(rng.randrange(256), rng.randrange(256)) for _ in range(3)]
        draw.line(road, fill=(255, 255, 255), width=rng.choice([2, 3, 5]))
        draw.line(road, fill=(247, 250, 191), width=1)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@contextlib.contextmanager
def tile_server() -> Iterator[str]:
    """Map tiles on a loopback port in place of OpenStreetMap's, which this machine cannot
    reach (a tile that fails is a console error, and best practices count it); yields the
    TILE_URL. Tiles come from another origin, as in the field, and are cached as OSM's are."""
    body = tile_png()

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            if not re.fullmatch(r"/\d+/\d+/\d+\.png", self.path):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=604800")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png"
    finally:
        server.shutdown()
        server.server_close()


def dispatched_alert() -> int:
    """An alert the county sent the village supervisor, as the demo goes (tests/test_browser_
    alerts.py does it through the pages): an hour of bad air at a micro-station in his village
    raises it, the city office sends him. Run in a process of its own (see `alert_for`), on the
    database of DATABASE_URL; returns the alert's id. The demo holds no alert until its replay
    runs, and none is sent to anyone until an office does."""
    from datetime import timedelta

    import sqlalchemy as sa

    from alerts import dispatch, raising
    from alerts.services import Value, add_station, store
    from app import create_app
    from extensions import db
    from grid.demo import point_in
    from grid.models import Grid, Membership, Role, User
    from grid.time import utcnow

    app = create_app()
    with app.app_context():
        people = {
            u.username: u
            for u in db.session.scalars(
                sa.select(User).where(User.username.in_([LOGIN, "changji"]))
            )
        }
        village = db.session.scalar(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.user_id == people[LOGIN].id, Membership.role == Role.SUPERVISOR)
            .order_by(Grid.id)
        )
        lon, lat = point_in(village)
        station = add_station(
            code="LH-001", name=f"{village.name}微站", kind="micro", lon=lon, lat=lat
        ).station
        now = utcnow().replace(second=0, microsecond=0)
        hour = [Value("PM2.5", "minute", now - timedelta(minutes=m), 260.0) for m in range(60)]
        store(station, hour, "bench", now)
        alert = next(a for a in raising.evaluate(station, now) if a.rule == "level")
        dispatch.dispatch(alert, [people[LOGIN].id], people["changji"], None)
        db.session.commit()
        return alert.id


def alert_for(env: dict[str, str]) -> int:
    """`dispatched_alert` in a child process: its notices go to the task queue of `env`, never
    to this process's (the instance folder's, if it imported the app first)."""
    done = subprocess.run(
        [PYTHON, "-c", "from bench.lighthouse import dispatched_alert; print(dispatched_alert())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sending the supervisor an alert failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1])


def quiet_machine() -> str:
    """Wait up to QUIET_WAIT_S for the 1-minute load average to fall under QUIET_LOAD; the
    load averages when the measurement starts."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while float(load_average().split()[0]) >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(15)
    return load_average()


# --- one run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def chromium(base: str, cookie: str | None) -> Iterator[int]:
    """A fresh system Chromium (a new profile: nothing cached, no service worker, no IndexedDB)
    on a debugging port for Lighthouse to drive, holding the session cookie if one is given;
    yields the port. A cookie in the browser, not a header Lighthouse adds: the page's own
    requests and its service worker's both carry it, as on a phone (Lighthouse's extra headers
    reach the page's requests only, and the worker's fetch of /sync/token was refused)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    profile = tempfile.mkdtemp(prefix="gridpatrol-bench-chromium-")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=[*CHROME_FLAGS, f"--remote-debugging-port={port}"],
            )
            try:
                if cookie:
                    browser.add_cookies([{"name": "session", "value": cookie, "url": base}])
                yield port
            finally:
                browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def audit(
    binary: Path, base: str, path: str, cookie: str | None, tiles: str, out: Path
) -> tuple[dict, dict]:
    """One Lighthouse run of the page at `path`: the figures reported, and the whole report."""
    url = base + path
    for attempt in range(3):  # a Chromium that fails to start is tried again, twice
        with chromium(base, cookie) as port:
            done = subprocess.run(
                [
                    str(binary),
                    url,
                    f"--port={port}",
                    "--quiet",
                    f"--only-categories={','.join(CATEGORIES)}",
                    f"--skip-audits={SKIP_AUDITS}",
                    "--output=json",
                    f"--output-path={out}",
                    f"--emulated-user-agent={USER_AGENT}",  # as the log-in's (signed-in devices)
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
        if done.returncode == 0:
            break
        if attempt == 2:
            raise RuntimeError(f"lighthouse {url} failed: {done.stderr[-2000:]}")
    report = json.loads(out.read_text(encoding="utf-8"))
    if report.get("runtimeError"):
        raise RuntimeError(f"lighthouse {url}: {report['runtimeError']}")
    final = report.get("finalDisplayedUrl") or report.get("finalUrl") or ""
    if cookie and "/login" in final:
        raise RuntimeError(f"lighthouse {url} was sent to the log-in page: the cookie did not hold")
    audits = report["audits"]
    tile_origin = tiles.split("/{z}", 1)[0]
    requests = audits["network-requests"]["details"]["items"]
    page = [r for r in requests if not r["url"].startswith(tile_origin)]
    return {
        **{name: report["categories"][name]["score"] * 100 for name in CATEGORIES},
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "bytes": sum(r.get("transferSize") or 0 for r in page),
        "requests": len(page),
        "urls": {r["url"] for r in page},
        "failed": failed_audits(report),
    }, report


def failed_audits(report: dict) -> list[str]:
    """The scored audits of accessibility and best practices that did not pass."""
    failed = []
    for name in CATEGORIES[1:]:
        for ref in report["categories"][name]["auditRefs"]:
            found = report["audits"][ref["id"]]
            if ref["weight"] and found["scoreDisplayMode"] == "binary" and found["score"] != 1:
                failed.append(f"{name}: {ref['id']}")
    return failed


def transfer_size(url: str, cookie: str | None) -> int:
    """Bytes of one response as sent, compressed (headers and body), fetched as a browser."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "br, gzip"}
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our loopback server
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return len(response.headers.as_bytes()) + len(response.read())


def worker_bytes(base: str, page: Page, path: str, cookie: str | None, loaded: set[str]) -> int:
    """What the service worker downloads after a first visit, in the background, once per
    version: itself, the shell files the page did not load (templates/desk/sw.js PRECACHE), and
    on a signed-in page the bottom bar's pages it keeps for offline use (static/js/app.js
    warmTabs). The page's own files it revalidates (304s, headers only: not counted)."""
    source = urllib.request.urlopen(base + "/sw.js", timeout=30).read().decode()  # noqa: S310
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    fetched = [base + "/sw.js"] + [base + p for p in precache if base + p not in loaded]
    if page.signed_in:
        request = urllib.request.Request(  # noqa: S310 - our loopback server
            base + path, headers={"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"}
        )
        text = urllib.request.urlopen(request, timeout=30).read().decode()  # noqa: S310
        nav = re.search(r'<nav class="mainnav".*?</nav>', text, re.S)
        tabs = dict.fromkeys(re.findall(r'href="(/[^"]*)"', nav.group(0) if nav else ""))
        fetched += [base + t for t in [*tabs, "/offline"]]  # the page itself too: not kept yet
    return sum(
        transfer_size(url, cookie if page.signed_in else None) for url in dict.fromkeys(fetched)
    )


def keep_report(page: Page, runs: list[tuple[dict, dict]]) -> str:
    """Write the report of the page's median run (by performance score; of equals, the latest)
    to docs/lighthouse/<key>.report.json.gz; its path from the root."""
    ordered = sorted(range(len(runs)), key=lambda n: (runs[n][0]["performance"], n))
    _figures, report = runs[ordered[len(ordered) // 2]]
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{page.key}.report.json.gz"
    text = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    return str(path.relative_to(ROOT))


# --- the benchmark ----------------------------------------------------------------------------


def run(ctx: Context) -> str:
    binary = lighthouse()
    storage = tempfile.mkdtemp(prefix="gridpatrol-bench-lighthouse-")
    scratch = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-lighthouse-out-"))
    results: dict[str, list[tuple[dict, dict]]] = {}
    background: dict[str, int] = {}
    paths: dict[str, str] = {}
    try:
        with tile_server() as tiles:
            env = ctx.env(
                ctx.sqlite_url,
                GRIDPATROL_SESSION_COOKIE_SECURE="false",
                GRIDPATROL_PHOTO_STORAGE_DIR=json.dumps(storage),
                GRIDPATROL_TASKS_FILE=str(scratch / "tasks.db"),
                GRIDPATROL_TILE_URL=json.dumps(tiles),
            )
            alert = alert_for(env)
            paths = {p.key: p.path.format(alert=alert) for p in PAGES}
            with gunicorn_process(
                "app:create_app()",
                env,
                probe="/login",
                args=("--config", str(ROOT / "gunicorn.conf.py")),
            ) as (base, _proc):
                cookie = log_in(base)
                load_before = quiet_machine()
                started = time.strftime("%Y-%m-%d %H:%M %Z")
                for page in PAGES:
                    runs = results[page.key] = []
                    for n in range(RUNS):
                        print(f"bench: lighthouse: {page.key} {n + 1}/{RUNS}", file=sys.stderr)
                        signed = cookie if page.signed_in else None
                        runs.append(
                            audit(binary, base, paths[page.key], signed, tiles, scratch / "r.json")
                        )
                    loaded = runs[-1][0]["urls"]
                    background[page.key] = worker_bytes(base, page, paths[page.key], cookie, loaded)
                load_after = load_average()
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    kept = {page.key: keep_report(page, results[page.key]) for page in PAGES}
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    return section(version, results, background, paths, kept, load_before, load_after, started)


def section(version, results, background, paths, kept, load_before, load_after, started) -> str:
    """The Markdown section of docs/benchmarks.md."""
    medians: dict[str, dict[str, float]] = {}
    rows, sizes, notes = [], [], []
    for page in PAGES:
        figures = [f for f, _report in results[page.key]]
        mid = medians[page.key] = {
            name: median([f[name] for f in figures])
            for name in (*CATEGORIES, "cls", "lcp_ms", "tbt_ms", "bytes", "requests")
        }
        label = f"{page.what} (`{paths[page.key]}`{', signed in' if page.signed_in else ''})"
        rows.append(
            (
                label,
                *(f"{mid[name]:.0f}" for name in CATEGORIES),
                f"{mid['cls']:.3f}",
                f"{mid['lcp_ms']:,.0f}",
                f"{mid['tbt_ms']:,.0f}",
            )
        )
        sizes.append(
            (
                label,
                f"{mid['bytes'] / 1024:,.0f}",
                f"{mid['requests']:.0f}",
                f"{background[page.key] / 1024:,.0f}",
                f"`{kept[page.key]}`",
            )
        )
        failed = sorted({a for f in figures for a in f["failed"]})
        if failed:
            notes.append(f"- {page.what}: {', '.join(failed)} (in at least one run)")
    worst = {name: min(m[name] for m in medians.values()) for name in CATEGORIES}
    worst_cls = max(m["cls"] for m in medians.values())
    field_bytes = max(medians[p.key]["bytes"] for p in PAGES if p.field)
    targets = table(
        ("Target", "Measured", ""),
        [
            *(
                (
                    f"{name} >= {TARGET_SCORE} on each page (issue 14; performance: issue 10)",
                    f"worst median {worst[name]:.0f}",
                    met(worst[name] >= TARGET_SCORE),
                )
                for name in CATEGORIES
            ),
            (
                f"first visit < {TARGET_FIRST_VISIT_KB} KB, map tiles excluded, on the home, "
                "patrol and alert pages (issue 14)",
                f"largest {field_bytes / 1024:,.0f} KB",
                met(field_bytes < TARGET_FIRST_VISIT_KB * 1024),
            ),
            (
                f"layout shift < {TARGET_CLS} (issue 10)",
                f"worst {worst_cls:.3f}",
                met(worst_cls < TARGET_CLS),
            ),
        ],
    )
    notes_text = "\n".join(notes) or "- none: every scored audit passed in every run."
    header = ("Page", "Performance", "Accessibility", "Best practices", "Layout shift")
    return f"""\
## Lighthouse, mobile (`bench/lighthouse.py`)

Lighthouse {version} (performance, accessibility, best practices; mobile form factor, simulated
throttling: slow 4G and a 4x slower CPU) on the system Chromium, against gunicorn as `make run`
serves it (the SpatiaLite demo, responses compressed). Signed-in pages carry the village
supervisor's ({LOGIN}) session cookie; the alert is one raised at a micro-station in his
village and sent to him by the city office just before the run. Map tiles come from a server
on another loopback port (this machine cannot reach OpenStreetMap's; a 9 KB tile, cached for a
week as OSM's are). Each page is measured {RUNS} times from a fresh profile (a first visit:
nothing cached, no service worker yet); the figures are medians. Measured from {started}; load
average {load_before} before (the run waits up to {QUIET_WAIT_S // 60} minutes for the 1-minute
figure to fall under {QUIET_LOAD}), {load_after} after.

{table((*header, "LCP ms", "TBT ms"), rows)}

First visit: what the page downloads as it loads, as transferred (compressed, headers
included), map tiles excluded (Lighthouse's network requests). After load, in the background,
the service worker installs itself once per version and fetches the shell files the page did
not need and, for a signed-in person, the bottom bar's pages so that they open offline (figured
by fetching each as the worker does). A repeat visit needs no network for the shell:
`tests/test_browser_offline_shell.py`. The report of each page's median run (by performance) is
kept gzip'd; `python -m bench.lighthouse html REPORT OUT.html` renders it.

{table(("Page", "First visit KB", "Requests", "Worker, after load, KB", "Report"), sizes)}

Audits that kept accessibility or best practices under 100:
{notes_text}

{targets}
"""


def render_html(report: Path, out: Path) -> None:
    """Lighthouse's HTML page of a report kept in docs/lighthouse/ (its own renderer)."""
    generator = (
        PREFIX / "node_modules" / "lighthouse" / "report" / "generator" / "report-generator.js"
    )
    lighthouse()
    script = (
        f"import {{ReportGenerator}} from {json.dumps(generator.as_uri())};"
        "import fs from 'node:fs';"
        "const lhr = JSON.parse(fs.readFileSync(0, 'utf8'));"
        "process.stdout.write(ReportGenerator.generateReportHtml(lhr));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=gzip.decompress(report.read_bytes()),
        capture_output=True,
        check=True,
        timeout=120,
    )
    out.write_bytes(done.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "html":
        sys.exit("usage: python -m bench.lighthouse html REPORT.json.gz OUT.html")
    render_html(Path(sys.argv[2]), Path(sys.argv[3]))
