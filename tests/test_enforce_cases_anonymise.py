"""The typical cases' anonymiser (enforce/cases/anonymise.py; RULES §10, annex 4 二(三) of
seed 001): every known name and every pattern out of a sample case, the rest kept exactly."""

import pytest

from enforce.cases import anonymise as a

SAMPLE = (
    "2024年5月12日，昌吉市生态环境局执法人员对位于昌吉市延安北路198号的昌吉市宏达建材有限公司"
    "进行现场检查。该公司法定代表人张建国（身份证号码65230119850312001X）在场。\n"
    "现场发现该公司未落实扬尘防治措施，运输车辆新B12345、新BD12345在厂区内行驶。"
    "联系电话13899887766，座机0994-2345678。\n"
    "群众李明反映，三工镇下营盘村三组的张伟家附近有人焚烧垃圾，张建国对此不知情。"
    "欧阳娜娜住在锦绣花园5号楼2单元301室。阿不都·热合曼经营的赵家养殖场也存在问题。\n"
    "依据《中华人民共和国大气污染防治法》第一百零八条，罚款人民币5万元。"
)
KNOWN = [
    ("张建国", a.PERSON),
    ("张伟", a.PERSON),
    ("李明", a.PERSON),
    ("欧阳娜娜", a.PERSON),
    ("阿不都·热合曼", a.PERSON),
    ("昌吉市宏达建材有限公司", a.COMPANY),
    ("赵家养殖场", a.COMPANY),
    ("王五", a.PERSON),  # known but not in the text
    ("张", a.PERSON),  # too short to be looked for
]
EXPECTED = (
    "2024年5月12日，昌吉市生态环境局执法人员对位于昌吉市某路某号的某公司A"
    "进行现场检查。该公司法定代表人张某（身份证号码×××）在场。\n"
    "现场发现该公司未落实扬尘防治措施，运输车辆新B×××××、新B××××××在厂区内行驶。"
    "联系电话×××，座机×××。\n"
    "群众李某反映，三工镇某村某组的张某甲家附近有人焚烧垃圾，张某对此不知情。"
    "欧阳某住在某小区某号楼。阿某经营的某养殖场A也存在问题。\n"
    "依据《中华人民共和国大气污染防治法》第一百零八条，罚款人民币5万元。"
)


def test_the_sample_case_is_anonymised_exactly():
    result = a.anonymise(SAMPLE, KNOWN)
    assert result.text == EXPECTED
    for name, _kind in KNOWN:
        if len(name) > 1:
            assert name not in result.text
    for pattern in ("65230119850312001X", "13899887766", "2345678", "12345", "198号", "301室"):
        assert pattern not in result.text


def test_everything_outside_the_replacements_is_kept_as_it_was():
    result = a.anonymise(SAMPLE, KNOWN)
    # walk both texts: the pieces between replacements are the same characters, in order
    at, out = 0, result.text
    position = 0
    for r in result.replacements:
        kept = SAMPLE[at : r.start]
        assert out[position : position + len(kept)] == kept
        position += len(kept)
        assert out[position : position + len(r.replacement)] == r.replacement
        position += len(r.replacement)
        at = r.end
    assert out[position:] == SAMPLE[at:]
    assert (SAMPLE[at:]).encode() == out[position:].encode()


def test_each_replacement_is_listed_with_its_kind_and_placeholder():
    found = {(r.original, r.replacement, r.kind) for r in a.find(SAMPLE, KNOWN)}
    assert found == {
        ("延安北路198号", "某路某号", a.ADDRESS),
        ("昌吉市宏达建材有限公司", "某公司A", a.COMPANY),
        ("张建国", "张某", a.PERSON),
        ("65230119850312001X", "×××", a.ID_CARD),
        ("新B12345", "新B×××××", a.PLATE),
        ("新BD12345", "新B××××××", a.PLATE),
        ("13899887766", "×××", a.MOBILE),
        ("0994-2345678", "×××", a.LANDLINE),
        ("李明", "李某", a.PERSON),
        ("下营盘村三组", "某村某组", a.ADDRESS),
        ("张伟", "张某甲", a.PERSON),
        ("欧阳娜娜", "欧阳某", a.PERSON),
        ("锦绣花园5号楼2单元301室", "某小区某号楼", a.ADDRESS),
        ("阿不都·热合曼", "阿某", a.PERSON),
        ("赵家养殖场", "某养殖场A", a.COMPANY),
    }


@pytest.mark.parametrize(
    ("text", "original", "kind"),
    [
        ("身份证号65230119900101123X。", "65230119900101123X", a.ID_CARD),
        ("身份证号652301199001011234，", "652301199001011234", a.ID_CARD),
        ("证号652301900101123，", "652301900101123", a.ID_CARD),  # the old 15 digits
        ("手机13800138000。", "13800138000", a.MOBILE),
        ("手机+86 138-0013-8000。", "+86 138-0013-8000", a.MOBILE),
        ("手机138 0013 8000。", "138 0013 8000", a.MOBILE),
        ("座机(0994)2345678。", "(0994)2345678", a.LANDLINE),
        ("座机0994-2345678-12。", "0994-2345678-12", a.LANDLINE),
        ("座机09942345678。", "09942345678", a.LANDLINE),
        ("电话：2345678。", "2345678", a.LANDLINE),
        ("车辆新A12345驶离", "新A12345", a.PLATE),
        ("车辆新A·12345驶离", "新A·12345", a.PLATE),
        ("新能源车新AD12345驶离", "新AD12345", a.PLATE),
        ("挂车新B1234挂停放", "新B1234挂", a.PLATE),
        ("住在建国路12-3号院，", "建国路12-3号院", a.ADDRESS),
        ("位于北京南路街道长宁路8号2号楼1单元", "长宁路8号2号楼1单元", a.ADDRESS),
        ("在乌伊东路三十六号附近", "乌伊东路三十六号", a.ADDRESS),
        ("住在下营盘村3队", "下营盘村3队", a.ADDRESS),
        ("住在阳光小区12栋3单元", "阳光小区12栋3单元", a.ADDRESS),
    ],
)
def test_each_pattern(text, original, kind):
    found = a.find(text)
    assert [(r.original, r.kind) for r in found] == [(original, kind)]
    assert original not in a.apply(text, found)


@pytest.mark.parametrize(
    "text",
    [
        "2024年5月12日至20240513日检查。",  # dates
        "罚款人民币200000元，案号昌环罚〔2024〕12号。",  # amounts, case numbers
        "依据《大气污染防治法》第一百零八条第(一)项。",
        "PM2.5浓度为75微克/立方米，超标1.5倍。",
        "沿延安北路向北行驶，到达三工镇下营盘村。",  # a road, a village: public places
        "编号1234567890123456789的设备。",  # 19 digits: no ID number
        "统一社会信用代码的第12345678位。",
        "新疆维吾尔自治区昌吉回族自治州昌吉市",
    ],
)
def test_what_identifies_no_one_is_left_alone(text):
    assert a.find(text) == []
    assert a.anonymise(text).text == text


def test_the_longest_match_wins_and_nothing_overlaps():
    known = [("张三", a.PERSON), ("张三丰", a.PERSON), ("张三丰养殖场", a.COMPANY)]
    text = "张三丰养殖场的张三丰和张三。"
    found = a.find(text, known)
    assert [(r.original, r.replacement) for r in found] == [
        ("张三丰养殖场", "某养殖场A"),
        ("张三丰", "张某"),
        ("张三", "张某甲"),
    ]
    spans = [(r.start, r.end) for r in found]
    assert all(e1 <= s2 for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False))
    assert a.apply(text, found) == "某养殖场A的张某和张某甲。"


def test_the_same_original_gets_the_same_placeholder_and_others_are_told_apart():
    known = [
        ("甲公司", a.COMPANY),
        ("乙有限公司", a.COMPANY),
        ("丙砖厂", a.COMPANY),
        ("丁某某合作社", a.COMPANY),
        ("戊家", a.COMPANY),
    ]
    text = "甲公司、乙有限公司、丙砖厂、丁某某合作社、戊家；甲公司。"
    assert a.anonymise(text, known).text == "某公司A、某公司B、某厂A、某合作社A、某单位A；某公司A。"


def test_an_editors_phrase_and_a_kept_original():
    text = "张建国在宏达砖厂上班，宏达砖厂老板是张建国。"
    result = a.anonymise(text, [("张建国", a.PERSON)], extras=[("宏达砖厂", "某砖厂")])
    assert result.text == "张某在某砖厂上班，某砖厂老板是张某。"
    kept = a.anonymise(text, [("张建国", a.PERSON)], [("宏达砖厂", "某砖厂")], kept={"张建国"})
    assert kept.text == "张建国在某砖厂上班，某砖厂老板是张建国。"
    assert [r.kept for r in kept.replacements] == [True, False, False, True]


def test_an_editors_longer_phrase_takes_the_place_of_a_pattern_inside_it():
    text = "在延安北路198号东侧空地"
    result = a.anonymise(text, extras=[("延安北路198号东侧空地", "某处空地")])
    assert result.text == "在某处空地"


@pytest.mark.parametrize(
    ("name", "surname"),
    [
        ("张三", "张"),
        ("欧阳娜娜", "欧阳"),
        ("欧阳", "欧"),
        ("司马光", "司马"),
        ("阿不都·热合曼", "阿"),
    ],
)
def test_surnames(name, surname):
    assert a.surname(name) == surname


@pytest.mark.parametrize(
    ("text", "length", "problem"),
    [
        ("字" * 999, 999, ("short", 999)),
        ("字" * 1000, 1000, None),
        ("字 \n" * 1000, 1000, None),  # spaces and line breaks are not counted
        ("字" * 1500, 1500, None),
        ("字" * 1501, 1501, ("long", 1501)),
        ("\t字\u3000" * 1501, 1501, ("long", 1501)),  # nor tabs, nor the ideographic space
    ],
)
def test_the_length_as_annex_4_counts_it(text, length, problem):
    assert a.counted_length(text) == length
    assert a.length_problem(text) == problem
