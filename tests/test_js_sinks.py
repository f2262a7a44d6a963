"""No script builds HTML from strings (issue 9): a source named `<img src=x onerror=...>` must
reach the page as text everywhere, not only where Jinja escapes it. A cheap static guard over
our own JavaScript (not the vendored libraries): the DOM's HTML sinks are not used at all, and
every Leaflet call that would take a string as markup gets an element or escaped text from
`GridText` (static/js/app.js) or from a function of the same file that builds elements.
The browser test (tests/test_browser_text.py) shows the tooltip itself."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(
    glob.glob(os.path.join(ROOT, "static", "js", "*.js"))
    + glob.glob(os.path.join(ROOT, "templates", "**", "*.js"), recursive=True)
)

# Anywhere in a script: each of these parses a string as HTML.
HTML_SINKS = [
    (re.compile(r"\.innerHTML\b"), "innerHTML"),
    (re.compile(r"\.outerHTML\b"), "outerHTML"),
    (re.compile(r"\binsertAdjacentHTML\b"), "insertAdjacentHTML"),
    (re.compile(r"\bdocument\s*\.\s*write(ln)?\b"), "document.write"),
    (re.compile(r"\bcreateContextualFragment\b"), "createContextualFragment"),
    (re.compile(r"\bDOMParser\b"), "DOMParser"),
    (re.compile(r"\.srcdoc\b"), "srcdoc"),
    (re.compile(r"\bhtmx\s*\.\s*swap\s*\("), "htmx.swap with a string"),
    (re.compile(r"\baddAttribution\s*\("), "Leaflet addAttribution (HTML)"),
    (re.compile(r"\bsetPrefix\s*\((?!\s*false\s*\))"), "Leaflet setPrefix (HTML)"),
    (
        re.compile(r"(?<![\w$.])html\s*:(?!\s*function)"),
        "an html: option (Leaflet divIcon takes HTML)",
    ),
]
# Leaflet calls whose first argument is shown as HTML when it is a string.
CONTENT_CALLS = re.compile(
    r"\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\s*\("
)
CONTENT_OPTION = re.compile(r"(?<![\w$.])content\s*:")  # L.popup({content: ...}), L.tooltip(...)
ATTRIBUTION_OPTION = re.compile(r"(?<![\w$.])attribution\s*:")
ELEMENT = re.compile(r"^GridText\s*\.\s*element\s*\(")
ESCAPED = re.compile(r"^GridText\s*\.\s*html\s*\(")
WRAPPER = re.compile(r"^function\s*\([^)]*\)\s*\{\s*return\s+([A-Za-z_$][\w$]*)\s*\(.*\}$", re.S)
CALL = re.compile(r"^([A-Za-z_$][\w$]*)\s*\(")


def _strip_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), source, flags=re.S)
    return re.sub(r"(^|[^:'\"\\])//[^\n]*", r"\1", source)


def _balanced(source: str, start: int, opening: str, closing: str) -> str:
    """The text from `start` (just after an opening bracket) to its closing one."""
    depth, i = 1, start
    while i < len(source) and depth:
        if source[i] == opening:
            depth += 1
        elif source[i] == closing:
            depth -= 1
        i += 1
    return source[start : i - 1]


def _first_argument(source: str, start: int) -> str:
    """The first argument of the call whose `(` ends just before `start`."""
    depth, i = 0, start
    while i < len(source):
        c = source[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return source[start:i].strip()


def _option_value(source: str, start: int) -> str:
    """An object literal's value starting at `start`, up to the next top-level `,` or `}`."""
    return _first_argument(source, start)


def _builds_elements(source: str, name: str) -> bool:
    """Whether the function `name` of this file returns only elements it made with
    document.createElement or GridText.element (never a string)."""
    match = re.search(rf"\bfunction\s+{re.escape(name)}\s*\([^)]*\)\s*\{{", source)
    if not match:
        return False
    body = _balanced(source, match.end(), "{", "}")
    returned = re.findall(r"\breturn\s+([^;]+);", body)
    if not returned:
        return False
    for value in returned:
        value = value.strip()
        if ELEMENT.match(value):
            continue
        made = re.search(
            rf"\b{re.escape(value)}\s*=\s*(document\s*\.\s*createElement|GridText\s*\.\s*element)"
            r"\s*\(",
            body,
        )
        if not re.fullmatch(r"[A-Za-z_$][\w$]*", value) or not made:
            return False
    return True


def _is_element(source: str, argument: str) -> bool:
    if ELEMENT.match(argument):
        return True
    wrapped = WRAPPER.match(argument)
    call = CALL.match(argument)
    name = wrapped.group(1) if wrapped else call.group(1) if call else None
    return name is not None and name != "GridText" and _builds_elements(source, name)


def problems_in(source: str) -> list[str]:
    """What in this script builds HTML from a string, one line per finding."""
    source = _strip_comments(source)

    def line(pos: int) -> int:
        return source.count("\n", 0, pos) + 1

    found = []
    for pattern, what in HTML_SINKS:
        found += [f"line {line(m.start())}: {what}" for m in pattern.finditer(source)]
    for m in CONTENT_CALLS.finditer(source):
        argument = _first_argument(source, m.end())
        if not _is_element(source, argument):
            found.append(f"line {line(m.start())}: {m.group(1)}({argument}) is not an element")
    for m in CONTENT_OPTION.finditer(source):
        value = _option_value(source, m.end())
        if not _is_element(source, value):
            found.append(f"line {line(m.start())}: content: {value} is not an element")
    for m in ATTRIBUTION_OPTION.finditer(source):
        value = _option_value(source, m.end())
        if not ESCAPED.match(value):
            found.append(f"line {line(m.start())}: attribution: {value} is not GridText.html(...)")
    return found


def test_there_are_scripts_to_check():
    names = {os.path.basename(p) for p in SCRIPTS}
    assert {"app.js", "patrol.js", "map.js", "queue.js", "sw.js"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_script_builds_html_from_strings(path):
    with open(path, encoding="utf-8") as fh:
        found = problems_in(fh.read())
    assert not found, f"{os.path.relpath(path, ROOT)} builds HTML from strings:\n" + "\n".join(
        found
    )


BUILDER = """
function popup(feature) {
  var box = document.createElement('div');
  var name = document.createElement('strong');
  name.textContent = feature.name;
  box.appendChild(name);
  return box;
}
function label(feature) { return '<b>' + feature.name + '</b>'; }
"""


@pytest.mark.parametrize(
    ("snippet", "bad"),
    [
        # what static/js/patrol.js did before issue 9
        ("L.circleMarker(p).bindTooltip(s.name).addTo(map);", True),
        ("L.circleMarker(p).bindTooltip(GridText.element(s.name)).addTo(map);", False),
        ("layer.bindPopup('<b>' + name + '</b>', {maxWidth: 200});", True),
        ("lyr.bindPopup(function () { return popup(feature); });", False),
        ("lyr.bindPopup(popup(feature));", False),
        ("lyr.bindPopup(function () { return label(feature); });", True),
        ("lyr.bindPopup(label(feature));", True),
        ("tooltip.setContent(text);", True),
        ("L.popup({content: name}).openOn(map);", True),
        ("L.popup({content: GridText.element(name)}).openOn(map);", False),
        ("row.innerHTML = name;", True),
        ("list.insertAdjacentHTML('beforeend', row);", True),
        ("document.write(x);", True),
        ("L.divIcon({html: name});", True),
        ("L.tileLayer(url, {attribution: el.dataset.attribution});", True),
        ("L.tileLayer(url, {attribution: GridText.html(el.dataset.attribution)});", False),
        ("map.attributionControl.addAttribution(text);", True),
        ("el.textContent = name; // not innerHTML", False),
    ],
)
def test_the_guard_finds_html_built_from_strings(snippet, bad):
    assert bool(problems_in(BUILDER + snippet)) is bad, problems_in(BUILDER + snippet)
