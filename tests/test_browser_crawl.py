"""Every page each demo person reaches from the home page (issue 10's done-when): signed in as
each demo role, at 360x740 and at 1440x900, a breadth-first crawl follows every link and GET
form and finds no 4xx or 5xx, nothing wider than the screen, no English left untranslated, no
Content-Security-Policy violation, and axe's `target-size` and `scrollable-region-focusable`
rules clean (every <details> opened, so what a tap on its summary shows is checked too).

What it follows: each same-origin `a[href]` (hidden ones too: a link shown only at times must
open as well), each form with method="get" sent as it stands (its default values; not when the
browser would refuse it, a required field empty), each `hx-get` (asked for with HX-Request).
What it skips: POST forms (they change data, and the live server is shared by the session's
other tests), forms without method="get" (scripts' forms, such as the patrol page's, and
dialogs), /static/, other sites, tel: and mailto:. Files (photos, documents, JSON) have their
status checked with a request instead of being opened. Signing out takes a POST (/logout), and
no GET route writes anything, so the crawl cannot sign itself out.

The crawl is bounded by URL pattern (digits as N, the query's keys sorted, its values dropped):
at most PER_PATTERN pages of each, so every kind of page is seen without opening every grid;
a failure names the pattern, the URL and the page that linked to it.

Untranslated is decided two ways. Any text node, title, placeholder, aria-label, alt, button
value or data-label-* (script text) that is a whole English msgid of the Chinese catalogue whose
msgstr differs (with its %(placeholders)s matching anything). And any latin word of four letters
or more in what is visible, except ALLOWED_LATIN and data: log-in names, the browser's user
agent, codes with digits, addresses and the {placeholders} scripts fill.

Each run writes `crawl-<login>-<width>-<backend>.txt` in test-artifacts/ (status, page height
and URL of everything it opened) and a full-page screenshot of the home page beside it.
"""

import os
import re
from collections import deque
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from extensions import db
from grid.demo import demo_logins
from grid.models import User
from tests.conftest import browser_sign_in
from tests.test_i18n import BILINGUAL, catalogue

pytestmark = pytest.mark.browser

LOGINS = [login for login, _who in demo_logins()]
VIEWPORTS = {360: 740, 1440: 900}
PER_PATTERN = 2
MAX_PAGES = 200  # a guard: a pattern-bounded crawl of the demo opens about a tenth of this
AXE_RULES = ["target-size", "scrollable-region-focusable"]

# Files, not pages: their status is checked with a plain request (page.goto would download).
FILES = re.compile(
    r"^/(sources/documents/|patrol/photos/|sw\.js$|manifest\.webmanifest$)|\.(json|geojson|csv|xlsx)$"
)
STATIC = re.compile(r"^/static/")

# Latin words (4 letters or more) a Chinese page may show, and why:
ALLOWED_LATIN = {
    "GridPatrol",  # the brand, shown in both languages by design (tests/test_i18n.py BILINGUAL)
    "OpenStreetMap",  # the tiles' attribution, "© OpenStreetMap 贡献者": a name, kept
    "English",  # the language switch names each language in itself
    "JPEG",  # a file format's name ("PDF, JPEG or PNG"; PDF and PNG are too short to flag)
    "HTTP",  # a protocol's name: a station sends readings over HTTP or HJ 212
    "Excel",  # a program's name: the notice is downloaded as an Excel workbook
    "CEMS",  # continuous emission monitoring systems: the enterprises' devices, so named in China
}
# Not words of the interface: addresses, mail, codes mixing letters and digits (HJ212,
# 652301101000, PM2.5), and the {placeholders} a script fills in (data-label-*).
NOT_WORDS = re.compile(r"https?://\S+|\S+@\S+|\b\w*\d\w*\b|\{\w+\}")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")

PLACEHOLDER = re.compile(r"%\(\w+\)[a-zA-Z]|%[sd]")

# Recorded in every document before its own scripts run.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`
    + ` at ${e.sourceFile || '?'}:${e.lineNumber}`);
});
"""

# What one evaluate reads off a loaded page: its size, where it leads, and its words.
READ_PAGE = """() => {
  const height = document.documentElement.scrollHeight;  // as it opens, before the next line
  for (const details of document.querySelectorAll('details')) details.open = true;
  const skip = 'script, style, template, noscript';
  const texts = [], visible = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.closest(skip)) continue;
    texts.push(text);
    if (parent.checkVisibility({visibilityProperty: true})) visible.push(text);
  }
  const attrs = [document.title];
  for (const el of document.querySelectorAll('*')) {
    for (const name of ['placeholder', 'title', 'aria-label', 'alt']) {
      const value = el.getAttribute(name);
      if (value) attrs.push(value);
    }
    for (const attr of el.attributes) {
      if (!attr.name.startsWith('data-label-') || !attr.value) continue;
      // A map for a script (queue item kind -> label): its keys are names, its values are shown.
      let map = null;
      try { map = JSON.parse(attr.value); } catch (e) { /* a plain label */ }
      if (map && typeof map === 'object') {
        attrs.push(...Object.values(map).filter((value) => typeof value === 'string'));
      } else {
        attrs.push(attr.value);
      }
    }
    if (el.matches('input[type=submit], input[type=button], input[type=reset]') && el.value) {
      attrs.push(el.value);
    }
  }
  const links = Array.from(document.querySelectorAll('a[href]'), (a) => a.href);
  // GET forms as a person would send them: default values, the first named submit button;
  // a form the browser would refuse to send (a required field empty) is not sent.
  const forms = [];
  for (const form of document.querySelectorAll('form[method=get i]')) {
    if (!form.checkValidity()) continue;
    const data = new FormData(form);
    const button = form.querySelector('button[type=submit][name], button:not([type])[name]');
    if (button) data.append(button.name, button.value);
    const url = new URL(form.action);
    url.search = new URLSearchParams(data).toString();
    forms.push(url.href);
  }
  const fragments = Array.from(document.querySelectorAll('[hx-get]'),
                               (el) => new URL(el.getAttribute('hx-get'), location.href).href);
  return {
    width: document.documentElement.scrollWidth,
    height,
    csp: window.__cspViolations || [],
    texts, visible, attrs, links, forms, fragments,
  };
}"""


# axe-core (the copy axe-playwright-python ships) is in every document from the start, as an
# init script: injecting it into each page after load took as long as running it.
AXE_RUN = """async (rules) => {
  const results = await axe.run(document, {runOnly: {type: 'rule', values: rules},
                                           resultTypes: ['violations']});
  return results.violations.map((v) => ({id: v.id,
    targets: v.nodes.map((node) => node.target.join(' '))}));
}"""


def pattern(path_and_query: str) -> str:
    """/sources/12?grid=3&page=2 -> /sources/N?grid&page: one kind of page."""
    parts = urlsplit(path_and_query)
    keys = sorted({key for key, _value in parse_qsl(parts.query, keep_blank_values=True)})
    return re.sub(r"\d+", "N", parts.path) + ("?" + "&".join(keys) if keys else "")


def english_messages() -> set[str]:
    """Every msgid whose Chinese differs from it (a plural's both forms), with a letter outside
    its placeholders ("%(name)s: %(contact)s" is no English); the brand excepted."""
    found = set()
    for message in catalogue():
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        string = message.string
        first = string[0] if isinstance(string, tuple | list) else string
        for msgid in ids:
            words = PLACEHOLDER.sub("", msgid)
            if re.search("[A-Za-z]", words) and first != msgid and msgid not in BILINGUAL:
                found.add(" ".join(msgid.split()))
    return found


def message_pattern(msgid: str) -> re.Pattern:
    """A message with placeholders, as the texts it makes: anything in each placeholder's place."""
    parts = re.split(f"({PLACEHOLDER.pattern})", msgid)
    return re.compile("".join(".+?" if PLACEHOLDER.fullmatch(p) else re.escape(p) for p in parts))


class Crawl:
    """One person's breadth-first walk from the home page, noting what is wrong where."""

    def __init__(self, page, origin: str, width: int, data_words: set[str]):
        self.page = page
        self.allowed_latin = ALLOWED_LATIN | data_words
        self.origin = origin
        self.width = width
        self.seen: set[str] = set()
        self.per_pattern: dict[str, int] = {}
        self.queue: deque[tuple[str, str]] = deque()
        self.problems: list[str] = []
        self.opened: list[tuple[int, int, str]] = []  # status, height, path
        self.english = english_messages()
        self.english_with_values = [
            (m, message_pattern(m)) for m in self.english if PLACEHOLDER.search(m)
        ]
        self.console_csp: list[str] = []
        self.failed_requests: list[str] = []
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            self.console_csp.append(message.text)

    def _response(self, response):
        """What a page asks for itself (its scripts' fetches, its images) answers too."""
        if (
            response.url.startswith(self.origin)
            and response.status >= 400
            and not response.request.is_navigation_request()  # the page's own: checked apart
        ):
            self.failed_requests.append(f"{response.status} {response.url[len(self.origin) :]}")

    def offer(self, url: str, found_on: str) -> None:
        """Queue a link if it is this site's page or file and its pattern is not used up."""
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or f"{parts.scheme}://{parts.netloc}" != self.origin
        ):
            return  # tel:, mailto:, another site
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if STATIC.match(parts.path):
            return
        if self.take(path, pattern(path)):
            self.queue.append((path, found_on))

    def take(self, key: str, kind: str) -> bool:
        """Whether to open `key`: not seen yet, and its kind not used up (then it counts)."""
        if key in self.seen or self.per_pattern.get(kind, 0) >= PER_PATTERN:
            return False
        self.per_pattern[kind] = self.per_pattern.get(kind, 0) + 1
        self.seen.add(key)
        return True

    def fail(self, path: str, found_on: str, what: str) -> None:
        self.problems.append(f"{pattern(path)}: {path} (linked from {found_on}): {what}")

    def run(self) -> None:
        self.offer(self.origin + "/", "the home page")
        while self.queue and len(self.opened) < MAX_PAGES:
            path, found_on = self.queue.popleft()
            if FILES.search(urlsplit(path).path):
                self.check_file(path, found_on)
            else:
                self.check_page(path, found_on)
        assert not self.queue, f"more than {MAX_PAGES} pages: is the pattern bound working?"

    def check_file(self, path: str, found_on: str) -> None:
        response = self.page.context.request.get(self.origin + path)
        self.opened.append((response.status, 0, path))
        if response.status >= 400:
            self.fail(path, found_on, f"HTTP {response.status}")

    def check_page(self, path: str, found_on: str) -> None:
        self.console_csp.clear()
        self.failed_requests.clear()
        response = self.page.goto(self.origin + path)
        status = response.status if response else 0
        if not response or status >= 400:
            self.fail(path, found_on, f"HTTP {status}")
        if urlsplit(self.page.url).path == "/login":
            self.fail(path, found_on, "sent to the sign-in page")
        seen = self.page.evaluate(READ_PAGE)
        self.opened.append((status, seen["height"], path))
        if seen["width"] > self.width:
            self.fail(path, found_on, f"{seen['width']} px wide on a {self.width} px screen")
        for what in seen["csp"] + self.console_csp:
            self.fail(path, found_on, f"CSP violation: {what}")
        for what in self.failed_requests:
            self.fail(path, found_on, f"the page's request answered {what}")
        self.check_words(path, found_on, seen)
        self.check_axe(path, found_on)
        for url in seen["links"] + seen["forms"]:
            self.offer(url.split("#", 1)[0], path)
        for url in seen["fragments"]:
            self.check_fragment(url, path)

    def check_words(self, path: str, found_on: str, seen: dict) -> None:
        english = set()
        for text in seen["texts"] + seen["attrs"]:
            if text in self.english:
                english.add(text)
            else:
                english.update(m for m, p in self.english_with_values if p.fullmatch(text))
        if english:
            self.fail(path, found_on, f"untranslated: {sorted(english)}")
        latin = set()
        for text in seen["visible"] + seen["attrs"]:
            latin.update(
                w
                for w in LATIN_WORD.findall(NOT_WORDS.sub(" ", text))
                if w not in self.allowed_latin
            )
        if latin:
            self.fail(path, found_on, f"latin words: {sorted(latin)}")

    def check_axe(self, path: str, found_on: str) -> None:
        for violation in self.page.evaluate(AXE_RUN, AXE_RULES):
            self.fail(path, found_on, f"axe {violation['id']}: {violation['targets']}")

    def check_fragment(self, url: str, found_on: str) -> None:
        """An htmx GET a page makes (polling, say) answers as well."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not self.take("hx " + path, "hx " + pattern(path)):
            return
        response = self.page.context.request.get(url, headers={"HX-Request": "true"})
        if response.status >= 400:
            self.fail(path, found_on, f"htmx GET answered {response.status}")


def data_words(live_app, page) -> set[str]:
    """Latin words that are data, not interface: the log-in names (the demo's are pinyin) and
    this browser's user agent, which the signed-in devices page shows as the device."""
    with live_app.app_context():
        names = db.session.scalars(sa.select(User.username)).all()
        db.session.remove()
    return set(LATIN_WORD.findall(" ".join([*names, page.evaluate("navigator.userAgent")])))


@pytest.mark.parametrize("width", VIEWPORTS)
@pytest.mark.parametrize("login", LOGINS)
def test_every_page_reachable_from_home(
    browser, live_server, live_app, login, width, artifacts_dir, database
):
    context = browser.new_context(
        viewport={"width": width, "height": VIEWPORTS[width]},
        locale="zh-CN",
        service_workers="block",  # what the server answers, not a copy the worker kept
    )
    try:
        context.add_init_script(CSP_LISTENER)
        context.add_init_script(Axe().axe_script)
        page = context.new_page()
        browser_sign_in(page, live_server, login)
        name = f"crawl-{login}-{width}-{database.backend}"
        page.screenshot(path=os.path.join(artifacts_dir, f"{name}.png"), full_page=True)

        crawl = Crawl(page, live_server, width, data_words(live_app, page))
        crawl.run()
        with open(os.path.join(artifacts_dir, f"{name}.txt"), "w", encoding="utf-8") as report:
            for status, height, path in crawl.opened:
                report.write(f"{status}\t{height}\t{path}\n")
        assert len(crawl.opened) >= 5, f"{login} reached only {crawl.opened}"
        assert not crawl.problems, f"{login} at {width} px:\n  " + "\n  ".join(crawl.problems)
    finally:
        context.close()
