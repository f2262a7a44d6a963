"""Requests per second of a signed-in supervisor's home page under gunicorn, against a bare Flask
"hello" served the same way in the same run; latency percentiles of the home page."""

import contextlib
import html
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from bench.common import (
    GUNICORN_WORKERS,
    PERCENTILE_SCRIPT,
    Context,
    CpuMeter,
    WrkResult,
    fmt_int,
    gunicorn,
    gunicorn_config,
    median,
    met,
    table,
    wrk,
)

LOGIN, PASSWORD = "cun", "demo1234"  # the demo's village supervisor
USER_AGENT = "gridpatrol-bench"  # the same for the log-in and for wrk (session protection)
THROUGHPUT_CONNECTIONS = 50
LATENCY_CONNECTIONS = 10
THREADS = 2
DURATION = 10  # seconds per measurement
WARMUP = 3  # seconds, once per server before the first measurement
REPEATS = 5
REFERENCE_REPEATS = 2  # the throughput at twice the workers, for reference
TARGET_RATIO = 0.25  # home page req/s >= 25% of hello's
TARGET_P95_MS = 30.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _user_name(ctx: Context) -> str:
    import sqlalchemy as sa

    from extensions import db
    from grid.models import User

    with ctx.app(ctx.sqlite_url).app_context():
        name = db.session.scalar(sa.select(User.name).where(User.username == LOGIN))
        db.session.remove()
    if not name:
        raise RuntimeError(f"the demo has no user {LOGIN!r}")
    return name


def log_in(base: str, login: str = LOGIN, password: str = PASSWORD) -> str:
    """Sign in through the real form; the value of the session cookie."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=30) as response:
        page = response.read().decode()
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', page
    )
    if not match:
        raise RuntimeError("no CSRF token on the log-in page")
    form = {"login": login, "password": password, "csrf_token": html.unescape(match.group(1))}
    data = urllib.parse.urlencode(form).encode()
    with opener.open(base + "/login", data=data, timeout=30) as response:
        response.read()
    session = next((c.value for c in jar if c.name == "session"), None)
    if not session:
        raise RuntimeError(f"signing in as {login!r} set no session cookie")
    return session


def check_home(base: str, headers: list[str], name: str) -> int:
    """GET / as wrk will: it must be the home page (200, the user's name), not the log-in page."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(base + "/", headers=dict(h.split(": ", 1) for h in headers))
    try:
        with opener.open(request, timeout=30) as response:
            status, page = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"GET / with the session cookie answered {exc.code}, not 200") from exc
    if status != 200 or html.escape(name) not in page or 'action="/login"' in page:
        raise RuntimeError(f"GET / with the session cookie is not {LOGIN}'s home page ({status})")
    return len(page.encode())


def _errors(results: list[WrkResult]) -> str:
    non_2xx = sum(r.non_2xx_3xx for r in results)
    sockets = sum(r.errors for r in results)
    return f"{non_2xx} / {sockets}"


def _reference(ctx: Context, name: str, app_env: dict[str, str]) -> tuple[float, float, int]:
    """Throughput of both at twice the workers (2 per core), to show how much it matters."""
    workers = 2 * GUNICORN_WORKERS
    with (
        gunicorn("bench.hello:app", ctx.env(ctx.sqlite_url), workers=workers) as hello,
        gunicorn("app:create_app()", app_env, probe="/login", workers=workers) as home,
    ):
        headers = [f"Cookie: session={log_in(home)}", f"User-Agent: {USER_AGENT}"]
        check_home(home, headers, name)
        urls = {
            "hello": (hello + "/", [f"User-Agent: {USER_AGENT}"]),
            "home": (home + "/", headers),
        }
        for url, hdrs in urls.values():
            wrk(url, THROUGHPUT_CONNECTIONS, WARMUP, threads=THREADS, headers=hdrs)
        runs: dict[str, list[float]] = {"hello": [], "home": []}
        for _ in range(REFERENCE_REPEATS):
            for which, (url, hdrs) in urls.items():
                result = wrk(url, THROUGHPUT_CONNECTIONS, DURATION, threads=THREADS, headers=hdrs)
                runs[which].append(result.requests_per_sec)
    return median(runs["hello"]), median(runs["home"]), workers


def _before(ctx: Context, throughput: dict, latency: dict) -> tuple[str, str]:
    """A note comparing the home page with the code before, if it was served."""
    if "before" not in throughput:
        return "", ""
    rps = {w: median([r.requests_per_sec for r in throughput[w]]) for w in ("home", "before")}
    p95 = {w: median([r.latency_ms["p95"] for r in latency[w]]) for w in ("home", "before")}
    note = (
        f"\nThe code before ({ctx.before_label()}) ran on a demo database of its own, made by its "
        "own migrations and demo loader, served the same way and measured in the same "
        f"alternation: now / before {rps['home'] / rps['before']:.1%} of its requests per "
        f"second, p95 {p95['home']:.1f} / {p95['before']:.1f} ms. Between two servers taking "
        "turns on two shared cores this moves by ten percent from run to run either way; "
        "whether the page got slower is decided in instructions (bench/compare.py).\n"
    )
    return "", note


def run(ctx: Context) -> str:
    name = _user_name(ctx)
    app_env = ctx.env(ctx.sqlite_url, GRIDPATROL_SESSION_COOKIE_SECURE="false")
    with contextlib.ExitStack() as servers:
        hello = servers.enter_context(gunicorn("bench.hello:app", ctx.env(ctx.sqlite_url)))
        home = servers.enter_context(gunicorn("app:create_app()", app_env, probe="/login"))
        cookie = log_in(home)
        headers = [f"Cookie: session={cookie}", f"User-Agent: {USER_AGENT}"]
        page_bytes = check_home(home, headers, name)
        targets = {
            "hello": (hello + "/", [f"User-Agent: {USER_AGENT}"]),
            "home": (home + "/", headers),
        }
        if ctx.before_root is not None:  # the code before a change, served the same way
            before_env = ctx.env(
                ctx.before_sqlite_url, ctx.before_root, GRIDPATROL_SESSION_COOKIE_SECURE="false"
            )
            before = servers.enter_context(
                gunicorn("app:create_app()", before_env, probe="/login", root=ctx.before_root)
            )
            before_headers = [f"Cookie: session={log_in(before)}", f"User-Agent: {USER_AGENT}"]
            check_home(before, before_headers, name)
            targets["before"] = (before + "/", before_headers)

        others: list[float] = []  # other processes' CPU share during each measurement
        steals: list[float] = []  # and the hypervisor's steal

        def measure(which: str, connections: int, duration: int, **kw) -> WrkResult:
            url, hdrs = targets[which]
            with CpuMeter() as meter:
                result = wrk(url, connections, duration, threads=THREADS, headers=hdrs, **kw)
            others.append(meter.other_share)
            steals.append(meter.steal_share)
            return result

        for which in targets:
            measure(which, THROUGHPUT_CONNECTIONS, WARMUP)
        others.clear()
        steals.clear()
        throughput: dict[str, list[WrkResult]] = {w: [] for w in targets}
        latency: dict[str, list[WrkResult]] = {w: [] for w in targets}
        for _ in range(REPEATS):
            for which in targets:
                throughput[which].append(
                    measure(which, THROUGHPUT_CONNECTIONS, DURATION, latency=True)
                )
        for _ in range(REPEATS):
            for which in targets:
                latency[which].append(
                    measure(which, LATENCY_CONNECTIONS, DURATION, script=PERCENTILE_SCRIPT)
                )
        check_home(home, headers, name)  # still signed in after the load
    ref_hello, ref_home, ref_workers = _reference(ctx, name, app_env)
    before_rows, before_note = _before(ctx, throughput, latency)

    rps = {w: median([r.requests_per_sec for r in rs]) for w, rs in throughput.items()}
    p50 = {w: median([r.latency_ms["p50"] for r in rs]) for w, rs in latency.items()}
    p95 = {w: median([r.latency_ms["p95"] for r in rs]) for w, rs in latency.items()}
    ratio = rps["home"] / rps["hello"]
    labels = {
        "hello": "bare Flask `hello` (`bench/hello.py`)",
        "home": f"home page `/` as `{LOGIN}`",
        "before": f"home page `/` as `{LOGIN}`, code before ({ctx.before_label()})",
    }
    rows = [
        (
            labels[w],
            fmt_int(rps[w]),
            ", ".join(fmt_int(r.requests_per_sec) for r in throughput[w]),
            f"{p50[w]:.1f}",
            f"{p95[w]:.1f}",
            ", ".join(f"{r.latency_ms['p95']:.1f}" for r in latency[w]),
            _errors(throughput[w] + latency[w]),
        )
        for w in targets
    ]
    non_2xx = sum(r.non_2xx_3xx for w in targets for r in throughput[w] + latency[w])
    header = (
        "Endpoint",
        f"Req/s, {THROUGHPUT_CONNECTIONS} conns (median)",
        "Req/s runs",
        f"p50 ms, {LATENCY_CONNECTIONS} conns",
        f"p95 ms, {LATENCY_CONNECTIONS} conns (median)",
        "p95 runs",
        "Non-2xx / socket errors",
    )
    return f"""\
## Home page under gunicorn (`bench/http.py`)

Requests per second of the real home page `/` against a bare Flask "hello", both under
gunicorn, and the home page's latency.

- **Pages:** the home page of the demo's village supervisor `{LOGIN}` ({page_bytes:,} bytes of
  HTML), signed in once through the log-in form, wrk sending the session cookie; checked before
  and after the load to be the home page with the user's name, not the log-in page. The bare
  endpoint is `bench/hello.py`, one route returning `hello`.
- **Servers:** both up at the same time, each on its own loopback port, same configuration:
  `{gunicorn_config()}`. The app runs on the SpatiaLite demo database.
- **Throughput:** `wrk -t{THREADS} -c{THROUGHPUT_CONNECTIONS} -d{DURATION}s --latency`, after a
  {WARMUP} s warm-up per server.
- **Latency:** `wrk -t{THREADS} -c{LATENCY_CONNECTIONS} -d{DURATION}s` with a Lua `done()` that
  prints wrk's own 50th and 95th percentiles.
- **Repeats:** each measurement {REPEATS} times, alternating hello and home; medians reported.
- **Machine share:** while wrk ran, other processes used {sum(others) / len(others):.0%} of the
  CPU on average (at most {max(others):.0%} in one measurement) and the hypervisor stole
  {sum(steals) / len(steals):.0%} (at most {max(steals):.0%}).

{table(header, rows)}

| Target | Measured | |
| --- | --- | --- |
| home page req/s ≥ 25% of hello's ({THROUGHPUT_CONNECTIONS} connections) | \
{ratio:.1%} ({fmt_int(rps["home"])} / {fmt_int(rps["hello"])}) | {met(ratio >= TARGET_RATIO)} |
| home page p95 ≤ {TARGET_P95_MS:.0f} ms ({LATENCY_CONNECTIONS} connections) | \
{p95["home"]:.1f} ms | {met(p95["home"] <= TARGET_P95_MS)} |
| no non-2xx/3xx responses | {non_2xx} | {met(non_2xx == 0)} |
{before_rows}{before_note}
For reference, the same throughput measurement with {ref_workers} workers ({
        ref_workers // GUNICORN_WORKERS
    } per core; median of {REFERENCE_REPEATS}): hello {fmt_int(ref_hello)} req/s, home
page {fmt_int(ref_home)} req/s, {ref_home / ref_hello:.1%}. More processes than cores take turns on
them and evict each other's caches; the bare endpoint hardly notices, a real page does.
"""
