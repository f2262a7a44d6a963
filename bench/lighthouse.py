"""Lighthouse (mobile, simulated throttling) on the pages a newcomer meets first: /login and
/complaint signed out, the village supervisor's home and patrol page signed in. Served as
`make run` serves it (gunicorn.conf.py, the SpatiaLite demo), from the system Chromium; each page
measured RUNS times, medians reported, with the bytes a first visit downloads.

Lighthouse comes from npm into .bench/lighthouse (12.x: the newest that runs on Node 20).
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import ROOT, Context, gunicorn_process, median, met, table
from bench.http import USER_AGENT, log_in

LIGHTHOUSE_VERSION = "12"
PREFIX = ROOT / ".bench" / "lighthouse"
CHROMIUM = os.environ.get("GRIDPATROL_CHROMIUM", "/usr/bin/chromium")
RUNS = 3
PAGES = (  # (what, path, signed in)
    ("log-in page", "/login", False),
    ("public complaint form", "/complaint", False),
    ("village supervisor's home", "/", True),
    ("patrol page", "/patrol/", True),
)
TARGET_PERFORMANCE = 95
TARGET_CLS = 0.1
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run"
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


def audit(binary: Path, url: str, cookie: str | None, out: Path) -> dict:
    """One Lighthouse run of `url`: performance score, layout shift, LCP, TBT and bytes."""
    command = [
        str(binary),
        url,
        "--quiet",
        "--only-categories=performance",
        "--output=json",
        f"--output-path={out}",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--emulated-user-agent={USER_AGENT}",  # the session is bound to the log-in's agent
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": f"session={cookie}"}))
    for attempt in range(3):  # a Chromium that fails to start is tried again, twice
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "CHROME_PATH": CHROMIUM},
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
    return {
        "performance": report["categories"]["performance"]["score"] * 100,
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "bytes": audits["total-byte-weight"]["numericValue"],
    }


def run(ctx: Context) -> str:
    binary = lighthouse()
    storage = tempfile.mkdtemp(prefix="gridpatrol-bench-lighthouse-")
    scratch = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-lighthouse-out-"))
    env = ctx.env(
        ctx.sqlite_url,
        GRIDPATROL_SESSION_COOKIE_SECURE="false",
        GRIDPATROL_PHOTO_STORAGE_DIR=json.dumps(storage),
    )
    results: dict[str, list[dict]] = {}
    try:
        with gunicorn_process(
            "app:create_app()",
            env,
            probe="/login",
            args=("--config", str(ROOT / "gunicorn.conf.py")),
        ) as (base, _proc):
            cookie = log_in(base)
            for what, path, signed_in in PAGES:
                results[what] = [
                    audit(binary, base + path, cookie if signed_in else None, scratch / "r.json")
                    for _ in range(RUNS)
                ]
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    rows, worst_performance, worst_cls = [], 100.0, 0.0
    for what, path, signed_in in PAGES:
        runs = results[what]
        performance = median([r["performance"] for r in runs])
        cls = median([r["cls"] for r in runs])
        worst_performance, worst_cls = min(worst_performance, performance), max(worst_cls, cls)
        rows.append(
            (
                f"{what} (`{path}`{', signed in' if signed_in else ''})",
                f"{performance:.0f}",
                f"{cls:.3f}",
                f"{median([r['lcp_ms'] for r in runs]):,.0f}",
                f"{median([r['tbt_ms'] for r in runs]):,.0f}",
                f"{median([r['bytes'] for r in runs]) / 1024:,.0f}",
            )
        )
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    targets = table(
        ("Target (issue 10)", "Measured", ""),
        [
            (
                f"performance >= {TARGET_PERFORMANCE} on each page",
                f"worst {worst_performance:.0f}",
                met(worst_performance >= TARGET_PERFORMANCE),
            ),
            (
                f"layout shift < {TARGET_CLS}",
                f"worst {worst_cls:.3f}",
                met(worst_cls < TARGET_CLS),
            ),
        ],
    )
    return f"""\
## Lighthouse, mobile (`bench/lighthouse.py`)

Lighthouse {version} (performance only; mobile form factor, simulated throttling: slow 4G and
a 4x slower CPU) on the system Chromium, against gunicorn as `make run` serves it (the
SpatiaLite demo, responses compressed). Signed-in pages carry the village supervisor's session
cookie. Each page is measured {RUNS} times from a fresh profile (a first visit: nothing cached,
no service worker yet); the figures are medians. Bytes: everything the first visit downloads,
as transferred (compressed).

{table(("Page", "Performance", "Layout shift", "LCP ms", "TBT ms", "First-visit KB"), rows)}

{targets}
"""
