"""The anonymiser of typical cases: what in a case's text identifies a party, and what it is
replaced with. Pure: text and the names the app knows in, replacements and the public text out.

Annex 4 二(三) of seed 001 (RULES §10): "对当事人名称等进行技术处理" — the parties' names are
processed before a case is published. Found here:

- names the app knows (people: surname + 某; companies and other units: 某公司A, 某厂A ...);
- ID-card numbers (18 digits, the last possibly X; the old 15-digit ones), mobile and landline
  numbers (×××);
- licence plates, including the 8-character new-energy ones (the province and the issuing
  letter are kept: 新B×××××);
- addresses by pattern: what places a party inside a township — a road with a house number
  (某路某号), a village's group (某村某组), a residential building (某小区某号楼). The
  administrative divisions themselves (省/州/市/县/区/乡/镇/街道) are public and kept.

Longest match first, no two replacements overlapping; the same original always gets the same
placeholder in one case; everything else in the text is kept exactly as it was. The editor may
add phrases (with their replacement) and keep any replacement undone.
"""

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

# Annex 4 of seed 001: a typical case of 1,000-1,500 characters ("字数"), counted as the
# characters of the public text other than whitespace (spaces and line breaks are layout).
LENGTH_MIN = 1000
LENGTH_MAX = 1500

PERSON = "person"
COMPANY = "company"
ID_CARD = "id_card"
MOBILE = "mobile"
LANDLINE = "landline"
PLATE = "plate"
ADDRESS = "address"
EXTRA = "extra"
KINDS = (PERSON, COMPANY, ID_CARD, MOBILE, LANDLINE, PLATE, ADDRESS, EXTRA)

MASK = "×××"
_MIN_NAME = 2  # a one-character "name" would take every occurrence of that character

# Two-character surnames (复姓) in use; any other name's surname is its first character.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 西门 南宫 独孤 "
    "轩辕 呼延 万俟 闻人 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 钟离 赫连 拓跋".split()
)
# The unit a name ends with, longest first, and the word its placeholder uses.
UNIT_SUFFIXES = (
    ("股份有限公司", "公司"),
    ("有限责任公司", "公司"),
    ("有限公司", "公司"),
    ("公司", "公司"),
    ("专业合作社", "合作社"),
    ("合作社", "合作社"),
    ("养殖场", "养殖场"),
    ("搅拌站", "搅拌站"),
    ("加油站", "加油站"),
    ("砖厂", "厂"),
    ("厂", "厂"),
    ("场", "场"),
    ("站", "站"),
    ("店", "店"),
    ("中心", "中心"),
    ("项目部", "项目部"),
    ("项目", "项目"),
    ("工地", "工地"),
)
_SEQUENCE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SAME_SURNAME = "甲乙丙丁戊己庚辛壬癸"  # a second, third ... person of the same surname: 张某甲

_NUM = r"[0-9０-９一二三四五六七八九十百零〇两]+"
# What may not be part of a road, village or estate name: administrative levels (kept), roads, house
# numbers, prepositions and punctuation that end the name on its left.
_NAME_CHAR = (
    r"[^\s\d０-９,，。;；:：、!！?？()（）\[\]【】《》“”\"'"
    r"省州市县区乡镇村组号路街道巷于在至到的和与及从向往处位址是为]"
)
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Z"  # no I or O

# kind, pattern, and the group replaced (0: the whole match)
PATTERNS: tuple[tuple[str, re.Pattern[str], int | str], ...] = (
    (
        ID_CARD,
        re.compile(
            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
            r"\d{3}[\dXx](?![0-9A-Za-z])"
        ),
        0,
    ),
    (
        ID_CARD,
        re.compile(
            r"(?<![0-9A-Za-z])[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"
        ),
        0,
    ),
    (MOBILE, re.compile(r"(?<![\d+])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"), 0),
    (
        LANDLINE,
        re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-)\d{7,8}(?:-\d{1,4})?(?!\d)"),
        0,
    ),
    (LANDLINE, re.compile(r"(?<!\d)0\d{2,3}[2-9]\d{6,7}(?!\d)"), 0),
    (
        LANDLINE,  # a local number without its area code, where the text says it is a phone
        re.compile(
            r"(?:电话|座机|联系方式|手机|电话号码)(?:号码)?[:：为是]?\s*(?P<x>\d{7,8})(?!\d)"
        ),
        "x",
    ),
    (
        PLATE,
        re.compile(
            rf"[{_PLATE_PROVINCES}][{_PLATE_LETTER}][·•]?"
            rf"(?=[{_PLATE_LETTER}0-9]*[0-9])(?:[{_PLATE_LETTER}0-9]{{5,6}}|[{_PLATE_LETTER}0-9]{{4}}[挂学警])"
            rf"(?![{_PLATE_LETTER}0-9a-z])"
        ),
        0,
    ),
    (
        ADDRESS,  # road and house number: 延安北路198号, 建国路12-3号2号楼1单元301室
        re.compile(
            rf"{_NAME_CHAR}{{1,6}}(?P<road>大道|大街|路|街|巷|道)"
            rf"{_NUM}(?:[-－之附]{_NUM})?号(?:院)?"
            rf"(?:{_NUM}(?:号楼|栋|幢|单元|室|层|楼))*"
        ),
        0,
    ),
    (
        ADDRESS,  # residential building: 锦绣花园5号楼2单元301室
        re.compile(
            rf"{_NAME_CHAR}{{1,8}}(?:小区|花园|家园|公寓|苑|新村)"
            rf"{_NUM}(?:号楼|栋|幢)(?:{_NUM}(?:单元|室|层|楼))*"
        ),
        0,
    ),
    (ADDRESS, re.compile(rf"{_NAME_CHAR}{{1,6}}村{_NUM}(?:组|队|社|小队)"), 0),
)


@dataclass(frozen=True)
class Replacement:
    """One stretch of the text, what replaces it, why, and whether the editor kept it as
    written (`kept`: undone)."""

    start: int
    end: int
    original: str
    replacement: str
    kind: str
    kept: bool = False


@dataclass(frozen=True)
class Result:
    text: str  # the public text
    replacements: list[Replacement]  # in the order of the text, kept ones included


def counted_length(text: str) -> int:
    """The case's length as annex 4 counts it: its characters other than whitespace."""
    return sum(1 for ch in text if not ch.isspace())


def length_problem(text: str) -> tuple[str, int] | None:
    """("short" or "long", the length) when the text is outside 1,000-1,500, else None."""
    n = counted_length(text)
    if n < LENGTH_MIN:
        return "short", n
    if n > LENGTH_MAX:
        return "long", n
    return None


def surname(name: str) -> str:
    """A person's surname: a compound one, else the first character (of the first part of a
    name written with a middle dot, as Uyghur and Kazakh names are)."""
    first = re.split(r"[·•．.]", name.strip(), maxsplit=1)[0] or name.strip()
    if len(first) > 2 and first[:2] in COMPOUND_SURNAMES:
        return first[:2]
    return first[:1]


def unit_word(name: str) -> str:
    """What kind of unit a name names, for its placeholder (某公司A, 某养殖场A); 单位 when its
    ending says nothing."""
    for suffix, word in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return word
    return "单位"


def _candidates(
    text: str, known: Iterable[tuple[str, str]], extras: Iterable[tuple[str, str]]
) -> list[tuple[int, int, str, str | None]]:
    """Every stretch found: (start, end, kind, replacement given or None)."""
    found: list[tuple[int, int, str, str | None]] = []
    for phrase, replacement in extras:
        for start in _occurrences(text, phrase):
            found.append((start, start + len(phrase), EXTRA, replacement))
    for name, kind in known:
        if len(name) < _MIN_NAME:
            continue
        for start in _occurrences(text, name):
            found.append((start, start + len(name), kind, None))
    for kind, pattern, group in PATTERNS:
        for match in pattern.finditer(text):
            found.append((match.start(group), match.end(group), kind, None))
    return found


def _occurrences(text: str, phrase: str) -> Iterable[int]:
    if not phrase:
        return
    start = text.find(phrase)
    while start >= 0:
        yield start
        start = text.find(phrase, start + len(phrase))


def _choose(
    found: list[tuple[int, int, str, str | None]],
) -> list[tuple[int, int, str, str | None]]:
    """Longest first (an editor's phrase before a pattern of the same length, then the earlier
    one); a stretch overlapping one already chosen is dropped. In the order of the text."""
    order = {EXTRA: 0, COMPANY: 1, PERSON: 2}
    chosen: list[tuple[int, int, str, str | None]] = []
    taken: list[tuple[int, int]] = []
    for item in sorted(found, key=lambda f: (-(f[1] - f[0]), order.get(f[2], 3), f[0])):
        start, end = item[0], item[1]
        if any(start < b and a < end for a, b in taken):
            continue
        chosen.append(item)
        taken.append((start, end))
    return sorted(chosen)


class _Placeholders:
    """The same original, the same placeholder; different people of one surname and different
    units of one kind told apart (张某, 张某甲; 某公司A, 某公司B)."""

    def __init__(self) -> None:
        self.given: dict[tuple[str, str], str] = {}
        self.used: dict[str, int] = {}

    def of(self, original: str, kind: str, given: str | None) -> str:
        key = (kind, original)
        if key in self.given:
            return self.given[key]
        if given is not None:
            value = given
        elif kind == PERSON:
            stem = surname(original) + "某"
            n = self.used.get(stem, 0)
            self.used[stem] = n + 1
            value = stem if n == 0 else stem + (_SAME_SURNAME[n - 1] if n <= 10 else str(n))
        elif kind == COMPANY:
            stem = "某" + unit_word(original)
            n = self.used.get(stem, 0)
            self.used[stem] = n + 1
            value = stem + (_SEQUENCE[n] if n < len(_SEQUENCE) else str(n + 1))
        elif kind == PLATE:
            value = original[:2] + "×" * (len(original.replace("·", "").replace("•", "")) - 2)
        elif kind == ADDRESS:
            value = _address(original)
        else:
            value = MASK
        self.given[key] = value
        return value


def _address(original: str) -> str:
    """某路某号, 某村某组 or 某小区某号楼, by the shape of the address found."""
    group = re.search(r"村" + _NUM + r"(组|队|社|小队)$", original)
    if group:
        return "某村某" + group.group(1)
    road = re.search(r"(大道|大街|路|街|巷|道)" + _NUM, original)
    if road:
        return f"某{road.group(1)}某号"
    return "某小区某号楼"


def find(
    text: str,
    known: Iterable[tuple[str, str]] = (),
    extras: Iterable[tuple[str, str]] = (),
    kept: Collection[str] = (),
) -> list[Replacement]:
    """Every replacement in `text`, in its order: the names `known` as (name, kind PERSON or
    COMPANY), the editor's `extras` as (phrase, replacement), then the patterns; an original in
    `kept` is listed but left as written."""
    places = _Placeholders()
    found = []
    for start, end, kind, given in _choose(_candidates(text, known, extras)):
        original = text[start:end]
        found.append(
            Replacement(
                start, end, original, places.of(original, kind, given), kind, original in kept
            )
        )
    return found


def apply(text: str, replacements: Iterable[Replacement]) -> str:
    """`text` with each replacement not kept put in; every other character as it was."""
    out, at = [], 0
    for item in sorted(replacements, key=lambda r: r.start):
        if item.kept:
            continue
        out.append(text[at : item.start])
        out.append(item.replacement)
        at = item.end
    out.append(text[at:])
    return "".join(out)


def anonymise(
    text: str,
    known: Iterable[tuple[str, str]] = (),
    extras: Iterable[tuple[str, str]] = (),
    kept: Collection[str] = (),
) -> Result:
    """The public text of `text` and the replacements that made it."""
    replacements = find(text, known, extras, kept)
    return Result(apply(text, replacements), replacements)
