"""Translations: every message has a Chinese translation, and the pages really show it.

The first tests read the source and the catalogue only (no database). The page tests render each
page in Chinese (the default) and look for any English source string left in what a user sees,
then switch to English and check that the page follows.
"""

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale, get_locale, get_translations

from extensions import db
from grid.models import Grid, User
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO_FILE = PO_FILE.with_suffix(".mo")
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "N_": None,
}  # as `make extract-messages`
PLACEHOLDER = re.compile(r"%\(\w+\)[a-zA-Z]")

# Words shown in both languages by design: the header reads "网格巡查 GridPatrol" whatever the
# language (templates/base.html), so the brand is not a left-over English string.
BILINGUAL = {"GridPatrol"}


@cache
def source_msgids() -> frozenset[str]:
    """Every msgid in the Python source and the templates, found as `make extract-messages` does."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        # Plural forms come as a tuple (singular, plural): the catalogue keys them by the
        # singular, and Chinese has one form for both.
        found.add(message[0] if isinstance(message, tuple) else message)
    return frozenset(m for m in found if m)


@cache
def catalogue():
    with open(PO_FILE, "rb") as fileobj:
        return read_po(fileobj, locale="zh_CN")


def translation(msgid: str) -> str:
    message = catalogue().get(msgid)
    if message is None or "fuzzy" in message.flags:
        return ""
    string = message.string
    if isinstance(string, tuple | list):
        string = string[0]
    return string or ""


def _listing(msgids) -> str:
    return "\n  " + "\n  ".join(repr(m) for m in sorted(msgids))


# --- the catalogue ------------------------------------------------------------------------------


def test_source_has_messages():
    """Guards the tests below: an extraction that finds nothing would make them pass vacuously."""
    msgids = source_msgids()
    assert len(msgids) > 50
    assert "Sign in" in msgids and "The log-in name or password is wrong." in msgids


def test_every_message_has_a_chinese_translation():
    missing = {m for m in source_msgids() if m not in catalogue()}
    assert not missing, (
        f"{len(missing)} msgids are not in {PO_FILE.relative_to(ROOT)}; run "
        f"`make extract-messages` and translate them:{_listing(missing)}"
    )
    fuzzy = {m for m in source_msgids() if "fuzzy" in catalogue()[m].flags}
    assert not fuzzy, f"fuzzy (unchecked) translations:{_listing(fuzzy)}"
    empty = {m for m in source_msgids() if not translation(m).strip()}
    assert not empty, f"empty msgstr:{_listing(empty)}"


def test_translations_keep_the_placeholders():
    wrong = {
        m
        for m in source_msgids()
        if translation(m)
        and sorted(PLACEHOLDER.findall(m)) != sorted(PLACEHOLDER.findall(translation(m)))
    }
    assert not wrong, "these msgstr do not keep their msgid's %(name)s placeholders:" + "".join(
        f"\n  {m!r} -> {translation(m)!r}" for m in sorted(wrong)
    )


def test_required_wording():
    """Words other tests and the users' documents rely on."""
    assert "用户名或密码错误" in translation("The log-in name or password is wrong.")
    assert "请稍后再试" in translation("Too many attempts. Please wait a moment and try again.")
    assert translation("Sign in") == "登录"
    assert translation("GridPatrol") == "网格巡查"


def test_compiled_catalogue_is_current():
    assert MO_FILE.exists(), f"{MO_FILE.relative_to(ROOT)} is missing: run `make translations`"
    assert MO_FILE.stat().st_mtime >= PO_FILE.stat().st_mtime, (
        f"{MO_FILE.relative_to(ROOT)} is older than {PO_FILE.name}: run `make translations`"
    )


def test_the_app_loads_the_chinese_catalogue(app):
    """Flask-Babel loads translations/<str(Locale.parse(code))>/, and Babel expands "zh_CN" to
    zh_Hans_CN; gettext then tries zh_Hans_CN/ and zh/, never zh_CN/. Catch that here, once."""
    with app.test_request_context(), force_locale("zh_CN"):
        lookup = get_translations().gettext
        assert lookup("Sign in") == translation("Sign in"), (
            f"the app loads no Chinese catalogue for zh_CN (Babel asks for "
            f"translations/{get_locale()}/ or translations/zh/): every page stays in English"
        )


# --- rendered pages -----------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """The text nodes a user sees (not <script>/<style>), and the attributes that are read out
    or shown: placeholder, aria-label, title and the data-label-* strings scripts display."""

    SKIP = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        for name, value in attrs:
            if value and (
                name in ("placeholder", "aria-label", "title") or name.startswith("data-label-")
            ):
                self.chunks.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.chunks.append(data)


def visible_chunks(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return [c for c in (" ".join(chunk.split()) for chunk in parser.chunks) if c]


@cache
def english_patterns() -> dict[str, re.Pattern]:
    """A pattern for each English source string that must not be seen on a Chinese page.

    Left out: msgids under 4 characters ("To", "All", "Map") or without a letter, which are too
    likely to turn up inside codes, names or other words; msgids whose translation is the same
    text (nothing to tell apart); and the BILINGUAL brand. A placeholder matches any text, and
    a match must not sit inside a longer word ("Grid" is not found in "GridPatrol").
    """
    patterns = {}
    for msgid in source_msgids():
        if len(msgid) < 4 or not re.search(r"[A-Za-z]", msgid) or msgid in BILINGUAL:
            continue
        if translation(msgid) == msgid:
            continue
        # The text around placeholders keeps its spaces: "%(name)s: %(contact)s" is not "17:45".
        parts = [re.escape(p) for p in PLACEHOLDER.split(" ".join(msgid.split()))]
        patterns[msgid] = re.compile(r"(?<![A-Za-z])" + ".+?".join(parts) + r"(?![A-Za-z])")
    return patterns


def untranslated(html: str) -> set[str]:
    chunks = visible_chunks(html)
    return {
        msgid
        for msgid, pattern in english_patterns().items()
        if any(pattern.search(chunk) for chunk in chunks)
    }


def _grid_id(level: int) -> int:
    return db.session.scalar(sa.select(Grid.id).where(Grid.level == level).order_by(Grid.id))


def _user_id(login: str) -> int:
    return db.session.scalar(sa.select(User.id).where(User.username == login))


# name: (signed in as admin?, path, an English msgid the page always shows)
PAGES = {
    "login": (False, lambda: "/login", "Sign in"),
    "offline": (False, lambda: "/offline", "No network"),
    "public-index": (False, lambda: "/public/", "Who supervises your area"),
    "public-county": (False, lambda: f"/public/{_grid_id(2)}", "Where to complain"),
    "home": (True, lambda: "/", "My posts"),
    "grid-root": (True, lambda: f"/grids/{_grid_id(1)}", "Complaint channels"),
    "grid-township": (True, lambda: f"/grids/{_grid_id(3)}", "Give someone a post here"),
    "staffing": (True, lambda: f"/grids/{_grid_id(1)}/staffing", "Staffing warnings"),
    "map": (True, lambda: "/grids/map", "Show child grids"),
    "people": (True, lambda: "/people/", "Register a person"),
    "people-new": (True, lambda: "/people/new", "Initial password (at least 8 characters)"),
    "person": (True, lambda: f"/people/{_user_id('cun')}", "Details"),
    "devices": (True, lambda: "/account/sessions", "This device"),
}


def _chinese_page(client, path):
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return response.get_data(as_text=True)


@pytest.mark.parametrize("page", PAGES)
def test_page_is_in_chinese_then_english(client, auth, page):
    signed_in, make_path, known = PAGES[page]
    if signed_in:
        assert auth.login("admin").status_code == 302
    path = make_path()

    html = _chinese_page(client, path)
    assert 'lang="zh-CN"' in html
    left = untranslated(html)
    assert not left, (
        f"{path} shows English in Chinese (an untranslated msgid, or the .mo is stale: "
        f"run `make translations`):{_listing(left)}"
    )
    text = "\n".join(visible_chunks(html))
    assert translation(known) in text, f"{path}: {translation(known)!r} ({known!r}) not shown"

    switched = client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client)})
    assert switched.status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="en"' in html, f"{path} is not in English after choosing English"
    text = "\n".join(visible_chunks(html))
    assert known in text, f"{path}: {known!r} not shown in English"
    assert translation(known) not in text, f"{path}: still shows {translation(known)!r}"
