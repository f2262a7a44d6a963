"""The pollution-source ledger (一企一档, RULES §2): pages and their actions, the import of the
special-supervision list (004 annex 2, RULES §9), and the demo's sources."""

import csv
import io
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from extensions import db
from grid import queries as grid_queries
from grid.demo import point_in
from grid.imports import ImportRejected
from grid.models import Grid, Membership, Role, User
from grid.time import local_today
from sources import queries as source_queries
from sources import services
from sources.imports import parse_special_list, resolve_county, short_name
from sources.models import Source, SourceChange, SourceDocument, SourceSurvey
from tests.conftest import DEMO_START, csrf_token

TOWN = "652301101000"  # 三工镇 in 昌吉市; its first village is `cun`'s
CHANGJI = "652301000000"
MULEI = "652328000000"  # 木垒哈萨克自治县
ANNEX_2025 = os.path.join(  # 004 annex 2, the published list (data/changji/SOURCES.md)
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "data",
    "changji",
    "special_supervision_2025.csv",
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def text_of(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def shown(n):
    """How the list counts its sources."""
    return f">{n} source<" if n == 1 else f">{n} sources<"


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def english(client):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client)})


def flashed(client, response):
    """The refusal or confirmation: on the page a 303 leads to, or on the 400 page of input
    that could not be read (grid.inputs)."""
    assert response.status_code in (303, 400), response.status_code
    if response.status_code == 400:
        return text_of(response)
    return text_of(client.get(response.headers["Location"]))


def cun_village():
    return grid_queries.children(grid_queries.grid_by_code(TOWN))[0]


def village_of(county_code, index=0):
    county = grid_queries.grid_by_code(county_code)
    town = grid_queries.children(county, include_key=False)[0]
    return grid_queries.children(town)[index]


def source_in(village):
    return db.session.scalar(
        sa.select(Source)
        .where(Source.grid_id == village.id, Source.status == "active")
        .order_by(Source.id)
        .limit(1)
    )


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count(model.id)).where(*where))


@pytest.fixture
def documents_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "store"))
    return tmp_path / "store"


# --- creating a source ------------------------------------------------------------------------


def test_a_new_source_goes_to_the_village_of_its_point(client, auth):
    county = grid_queries.grid_by_code(CHANGJI)
    village = grid_queries.children(grid_queries.grid_by_code(TOWN))[3]
    lon, lat = point_in(village)
    auth.login("changji")
    assert client.get(f"/sources/new?county={county.id}").status_code == 200
    response = post(
        client,
        f"/sources/new?county={county.id}",
        name="试验汽修店",
        kind="car_repair",
        lat=f"{lat:.7f}",
        lon=f"{lon:.7f}",
        key_polluter="1",
        contact_phone="0994-0000000",
    )
    assert response.status_code == 303
    source = db.session.scalar(sa.select(Source).where(Source.name == "试验汽修店"))
    assert response.headers["Location"].endswith(f"/sources/{source.id}")
    assert (source.grid_id, source.county_id) == (village.id, county.id)
    assert source.key_polluter and source.status == "active"
    assert source.created_by_id == db.session.scalar(
        sa.select(User.id).where(User.username == "changji")
    )
    page = text_of(client.get(f"/sources/{source.id}"))
    assert "试验汽修店" in page and village.name in page


def test_a_source_without_a_location_stays_with_the_county(client, auth):
    county = grid_queries.grid_by_code(CHANGJI)
    auth.login("changji")
    response = post(
        client, f"/sources/new?county={county.id}", name="无位置砖厂", kind="industrial"
    )
    assert response.status_code == 303
    source = db.session.scalar(sa.select(Source).where(Source.name == "无位置砖厂"))
    assert source.grid_id is None and source.location is None
    english(client)
    assert "no location yet" in text_of(client.get(f"/sources/{source.id}"))
    listed = text_of(client.get(f"/sources/?grid={county.id}&q=无位置"))
    assert "无位置砖厂" in listed and "no location yet" in listed


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "界外厂", "kind": "industrial"}, "The location is not inside 昌吉市"),
        ({"name": "", "kind": "industrial", "lat": "", "lon": ""}, "needs a name"),
        ({"name": "无类厂", "kind": "spaceship", "lat": "", "lon": ""}, "Choose the kind"),
        ({"name": "半坐标厂", "kind": "industrial", "lat": "44.0", "lon": ""}, "both latitude"),
        ({"name": "乱码厂", "kind": "industrial", "lat": "四十四", "lon": "87"}, "decimal degrees"),
        (
            {"name": "特管厂", "kind": "industrial", "special_supervision": "1"},
            "Say why the source is under special supervision",
        ),
    ],
)
def test_bad_new_sources_are_refused_with_the_form_kept(client, auth, form, message):
    county = grid_queries.grid_by_code(CHANGJI)
    lon, lat = point_in(village_of(MULEI))  # a point in another county
    form = {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", **form}
    before = count(Source)
    auth.login("changji")
    english(client)
    response = post(client, f"/sources/new?county={county.id}", **form)
    assert response.status_code == 400
    page = text_of(response)
    assert message in page
    if form["name"]:
        assert f'value="{form["name"]}"' in page  # the form is shown again with its values
    assert count(Source) == before


# --- changing a source ------------------------------------------------------------------------


def test_editing_the_particulars(client, auth):
    source = source_in(cun_village())
    lon, lat = to_shape(source.location).x, to_shape(source.location).y
    auth.login("changji")
    response = post(
        client,
        f"/sources/{source.id}",
        name="改名后的饭馆",
        kind="restaurant",
        lat=f"{lat!r}",
        lon=f"{lon!r}",
        contact_name="王某",
        notes="门前有油烟",
    )
    assert response.status_code == 303
    db.session.refresh(source)
    assert (source.name, source.contact_name, source.notes) == (
        "改名后的饭馆",
        "王某",
        "门前有油烟",
    )
    assert source.grid_id == cun_village().id


def test_moving_to_another_village_of_the_county(client, auth):
    source = source_in(cun_village())
    other = grid_queries.children(grid_queries.grid_by_code(TOWN))[5]
    auth.login("changji")
    english(client)
    response = post(client, f"/sources/{source.id}/move", village=str(other.id), note="重新划分")
    assert "The source is moved." in flashed(client, response)
    db.session.refresh(source)
    assert source.grid_id == other.id
    change = db.session.scalar(
        sa.select(SourceChange).where(
            SourceChange.source_id == source.id, SourceChange.grid_id.is_not(None)
        )
    )
    assert change.note == "重新划分"
    assert other.name in text_of(client.get(f"/sources/{source.id}"))

    response = post(client, f"/sources/{source.id}/move", village=str(village_of(MULEI).id))
    assert "Choose a village of 昌吉市" in flashed(client, response)
    db.session.refresh(source)
    assert source.grid_id == other.id


def test_changing_the_status_keeps_the_history(client, auth):
    village = cun_village()
    source = source_in(village)
    auth.login("changji")
    english(client)
    day = local_today() - timedelta(days=3)
    response = post(
        client,
        f"/sources/{source.id}/status",
        status="relocated",
        effective_on=day.isoformat(),
        note="搬入园区",
    )
    assert "The status is changed." in flashed(client, response)
    db.session.refresh(source)
    assert (source.status, source.status_since) == ("relocated", day)
    [change] = db.session.scalars(
        sa.select(SourceChange).where(SourceChange.source_id == source.id)
    ).all()
    assert (change.status, change.effective_on, change.note) == ("relocated", day, "搬入园区")
    assert source.id not in {p["id"] for p in source_queries.source_points(village)}
    page = text_of(client.get(f"/sources/{source.id}"))
    assert "Relocated" in page and "搬入园区" in page

    bad = post(client, f"/sources/{source.id}/status", status="active", effective_on="3/1/2025")
    assert "YYYY-MM-DD" in flashed(client, bad)
    db.session.refresh(source)
    assert source.status == "relocated"


def test_recording_a_survey(client, auth):
    source = source_in(cun_village())
    auth.login("changji")
    english(client)
    today = local_today()
    response = post(
        client, f"/sources/{source.id}/survey", surveyed_on=today.isoformat(), note="正常"
    )
    assert "The survey is recorded." in flashed(client, response)
    db.session.refresh(source)
    assert source.last_surveyed_on == today
    assert (
        count(SourceSurvey, SourceSurvey.source_id == source.id, SourceSurvey.note == "正常") == 1
    )
    future = post(
        client, f"/sources/{source.id}/survey", surveyed_on=(today + timedelta(days=2)).isoformat()
    )
    assert "Surveyed on must be between 2000-01-01 and" in flashed(client, future)
    db.session.refresh(source)
    assert source.last_surveyed_on == today


def test_documents_upload_and_download(client, auth, documents_dir):
    source = source_in(cun_village())
    auth.login("changji")
    english(client)
    url = f"/sources/{source.id}/documents"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client),
            "title": "排污许可证",
            "file": (io.BytesIO(PDF), "permit.pdf", "application/octet-stream"),
        },
        content_type="multipart/form-data",
    )
    assert "The document is added." in flashed(client, response)
    document = db.session.scalar(
        sa.select(SourceDocument).where(SourceDocument.source_id == source.id)
    )
    assert (document.title, document.content_type) == ("排污许可证", "application/pdf")
    assert any(documents_dir.rglob("*.pdf"))
    download = client.get(f"/sources/documents/{document.id}")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.mimetype == "application/pdf"

    fake = client.post(
        url,
        data={
            "csrf_token": csrf_token(client),
            "title": "伪装的文件",
            "file": (io.BytesIO(b"just some text, not a PDF"), "fake.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert "must be PDF, JPEG or PNG" in flashed(client, fake)
    assert count(SourceDocument, SourceDocument.source_id == source.id) == 1

    auth.login("cun")  # the village supervisor sees the dossier and may download
    assert client.get(f"/sources/documents/{document.id}").status_code == 200
    auth.login("sangong")  # so does the township's head
    assert client.get(f"/sources/documents/{document.id}").status_code == 200


# --- who may do what --------------------------------------------------------------------------


def _posts(source_id, village_id):
    return {
        f"/sources/{source_id}": {"name": "x", "kind": "other"},
        f"/sources/{source_id}/status": {"status": "bankrupt"},
        f"/sources/{source_id}/survey": {},
        f"/sources/{source_id}/move": {"village": str(village_id)},
        f"/sources/{source_id}/documents": {"title": "x"},
    }


def test_a_village_supervisor_may_look_but_not_change(client, auth):
    village = cun_village()
    source = source_in(village)
    county = grid_queries.grid_by_code(CHANGJI)
    auth.login("cun")
    assert client.get(f"/sources/{source.id}").status_code == 200
    assert 'method="post" action="/sources/' not in client.get(f"/sources/{source.id}").text
    assert client.get("/sources/").status_code == 200
    assert client.get(f"/sources/new?county={county.id}").status_code == 403
    assert client.get("/sources/new").status_code == 403
    assert (
        post(client, f"/sources/new?county={county.id}", name="x", kind="other").status_code == 403
    )
    for url, data in _posts(source.id, village.id).items():
        assert post(client, url, **data).status_code == 403, url
    db.session.refresh(source)
    assert source.status == "active" and source.name != "x"


def test_the_county_heads_see_the_ledger_but_the_office_keeps_it(client, auth):
    county = grid_queries.grid_by_code(CHANGJI)
    village = cun_village()
    source = source_in(village)
    head = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.grid_id == county.id, Membership.role == Role.HEAD)
        .limit(1)
    )
    auth.login(head.username)
    page = client.get(f"/sources/{source.id}")
    assert page.status_code == 200 and 'method="post" action="/sources/' not in page.text
    assert client.get(f"/sources/?grid={county.id}").status_code == 200
    assert client.get(f"/sources/new?county={county.id}").status_code == 403
    for url, data in _posts(source.id, village.id).items():
        assert post(client, url, **data).status_code == 403, url


def test_a_county_office_cannot_keep_another_countys_ledger(client, auth):
    village = village_of(MULEI)
    mulei = grid_queries.grid_by_code(MULEI)
    lon, lat = point_in(village)
    source = services.create_source(
        mulei, services.SourceFields(name="木垒测试源", kind="other", lon=lon, lat=lat)
    )
    auth.login("changji")
    assert client.get(f"/sources/{source.id}").status_code == 403
    assert client.get(f"/sources/new?county={mulei.id}").status_code == 403
    for url, data in _posts(source.id, village.id).items():
        assert post(client, url, **data).status_code == 403, url
    listed = text_of(client.get(f"/sources/?q={source.name}"))
    assert ">木垒测试源</a>" not in listed
    assert ">0 sources<" in listed or "共 0 个污染源" in listed
    auth.login("zhou")  # the prefecture's office keeps every ledger
    assert client.get(f"/sources/new?county={mulei.id}").status_code == 200
    assert ">木垒测试源</a>" in text_of(client.get(f"/sources/?q={source.name}"))


def test_anonymous_users_are_sent_to_log_in(client):
    source = source_in(cun_village())
    for url in ("/sources/", f"/sources/{source.id}", "/sources/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for url, data in _posts(source.id, cun_village().id).items():
        assert post(client, url, **data).status_code == 401, url


# --- the list ---------------------------------------------------------------------------------


def test_the_list_filters_and_pages(client, auth):
    county = grid_queries.grid_by_code(CHANGJI)
    auth.login("changji")
    english(client)
    page = text_of(client.get("/sources/"))
    total = db.session.scalar(
        sa.select(sa.func.count(Source.id)).where(Source.county_id == county.id)
    )
    assert f">{total} sources<" in page
    assert len(re.findall(r'href="/sources/\d+"', page)) == 50
    assert "Next" in page
    special = db.session.scalars(
        sa.select(Source).where(Source.county_id == county.id, Source.special_supervision)
    ).all()
    listed = text_of(client.get("/sources/?special=1"))
    assert shown(len(special)) in listed
    assert all(s.name in listed for s in special)
    one = source_in(cun_village())
    found = text_of(client.get(f"/sources/?q={one.name}&kind={one.kind}&status=active"))
    assert one.name in found
    assert ">1 source<" in text_of(client.get(f"/sources/?grid={cun_village().id}&q={one.name}"))
    assert ">0 sources<" in text_of(client.get("/sources/?q=100%25_"))


def test_a_source_has_a_name_not_a_persons_name(client, auth):
    """A source's name is 名称; 姓名 is a person's, and the people pages keep it (issue 10)."""
    auth.login("changji")
    page = client.get("/sources/").get_data(as_text=True)
    assert "<th>名称</th>" in page and 'placeholder="名称"' in page and "姓名" not in page
    assert '<label>名称 <input name="name"' in client.get("/sources/new").get_data(as_text=True)
    auth.login("admin")
    assert "<th>姓名</th>" in client.get("/people/").get_data(as_text=True)


def test_the_village_supervisor_sees_only_the_village(client, auth):
    village = cun_village()
    auth.login("cun")
    english(client)
    page = text_of(client.get("/sources/"))
    mine = db.session.scalars(sa.select(Source).where(Source.grid_id == village.id)).all()
    assert shown(len(mine)) in page
    assert "New source" not in page
    assert client.get(f"/sources/?grid={village.parent_id}").status_code == 403


# --- the special-supervision list (004 annex 2; RULES §9) --------------------------------------

COUNTIES = {
    "昌吉市": 1,
    "阜康市": 2,
    "呼图壁县": 3,
    "玛纳斯县": 4,
    "奇台县": 5,
    "吉木萨尔县": 6,
    "木垒哈萨克自治县": 7,
    "准东经济技术开发区": 8,
    "昌吉高新技术产业开发区": 9,
    "昌吉国家农业科技园区": 10,
}


@pytest.mark.parametrize(
    ("written", "county_id"),
    [
        ("昌吉市", 1),
        ("木垒县", 7),  # as the annex writes it
        ("木垒", 7),
        ("准东", 8),  # ditto
        ("准东经济技术开发区", 8),
        ("昌吉高新区", 9),
        ("昌吉", 1),
        ("吉木萨尔", 6),
    ],
)
def test_county_names_as_the_list_writes_them(written, county_id):
    assert resolve_county(written, COUNTIES) == (county_id, None)


@pytest.mark.parametrize(("written", "why"), [("乌鲁木齐市", "unknown"), ("", "no county")])
def test_unknown_county_names(written, why):
    county_id, message = resolve_county(written, COUNTIES)
    assert county_id is None and why in message


def test_ambiguous_county_names():
    assert resolve_county("东", {"东区": 1, "东县": 2})[1].startswith("county '东' is ambiguous")
    assert short_name("木垒哈萨克自治县") == short_name("木垒县") == "木垒"


def test_the_annex_format_parses():
    text = (
        "\ufeff2025年昌吉州特殊监管企业台账,,,,\n"
        "序号,企业名称,所在县市,纳入原因,备注\n"
        "1,甲公司,昌吉市,行政处罚金额在20万元及以上,\n"
        "2,乙公司,木垒县,刑事犯罪,移送公安\n"
        "\n"
        '3,丙公司,准东,"行政处罚金额在20万元及以上、刑事犯罪",\n'
    )
    rows = parse_special_list(text, COUNTIES)
    assert [(r.line, r.name, r.county_id, r.note) for r in rows] == [
        (3, "甲公司", 1, None),
        (4, "乙公司", 7, "移送公安"),
        (6, "丙公司", 8, None),
    ]
    assert rows[2].reason == "行政处罚金额在20万元及以上、刑事犯罪"


def test_the_english_header_without_optional_columns():
    rows = parse_special_list("Name,County,Reason\n丁公司,奇台县,信访投诉3次及以上\n", COUNTIES)
    assert [(r.name, r.county_id, r.reason, r.note) for r in rows] == [
        ("丁公司", 5, "信访投诉3次及以上", None)
    ]


def test_every_fault_is_named_at_once():
    text = (
        "no,name,county,reason,note\n"
        "1,甲公司,火星县,刑事犯罪,\n"
        "2,,昌吉市,刑事犯罪,\n"
        "3,乙公司,昌吉市,,\n"
        "4,丙公司,昌吉市,刑事犯罪,\n"
        "5,丙公司,昌吉市,信访投诉3次及以上,\n"
        "6,丙公司,阜康市,刑事犯罪,\n"
    )
    with pytest.raises(ImportRejected) as exc:
        parse_special_list(text, COUNTIES)
    assert exc.value.problems == [
        ("line 2", "unknown county '火星县'"),
        ("line 3", "empty name"),
        ("line 4", "empty reason"),
        ("line 6", "丙公司 is listed twice (also line 5)"),
    ]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", "empty"),
        ("序号,企业名称,纳入原因\n1,甲,刑事犯罪\n", "missing: county"),
        ("name,county,reason,colour\n甲,昌吉市,刑事犯罪,红\n", "unknown: colour"),
    ],
)
def test_bad_headers(text, what):
    with pytest.raises(ImportRejected) as exc:
        parse_special_list(text, COUNTIES)
    [(where, message)] = exc.value.problems
    assert where == "header" and what in message


def _csv(tmp_path, text):
    path = tmp_path / "special.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return str(path)


def test_importing_the_list(runner, tmp_path):
    mulei = grid_queries.grid_by_code(MULEI)
    existing = db.session.scalar(
        sa.select(Source)
        .where(Source.county_id == mulei.id, Source.special_supervision.is_(False))
        .order_by(Source.id)
        .limit(1)
    )
    text = (
        "序号,企业名称,所在县市,纳入原因,备注\n"
        f"1,{existing.name},木垒县,刑事犯罪,2024年移送\n"
        "2,准东虚构化工有限公司,准东,行政处罚金额在20万元及以上,\n"
    )
    result = runner.invoke(args=["sources", "import", _csv(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert "1 source(s) created, 1 updated" in result.output
    db.session.refresh(existing)
    assert existing.special_supervision and existing.special_reason == "刑事犯罪"
    assert existing.notes.endswith("2024年移送") and existing.grid_id is not None
    new = db.session.scalar(sa.select(Source).where(Source.name == "准东虚构化工有限公司"))
    zhundong = db.session.scalar(sa.select(Grid).where(Grid.name == "准东经济技术开发区"))
    assert (new.county_id, new.grid_id, new.kind) == (zhundong.id, None, "industrial")
    assert new.special_supervision and new.special_reason == "行政处罚金额在20万元及以上"

    again = runner.invoke(args=["sources", "import", "--kind", "coal_boiler", _csv(tmp_path, text)])
    assert "0 source(s) created, 2 updated" in again.output


def test_a_bad_list_changes_nothing(runner, tmp_path):
    before = (count(Source), count(Source, Source.special_supervision.is_(True)))
    text = (
        "序号,企业名称,所在县市,纳入原因,备注\n"
        "1,新虚构建材有限公司,昌吉市,刑事犯罪,\n"
        "2,另一虚构公司,火星县,刑事犯罪,\n"
        "3,第三虚构公司,阜康市,,\n"
    )
    result = runner.invoke(args=["sources", "import", _csv(tmp_path, text)])
    assert result.exit_code == 1
    assert "Rejected, nothing was imported (2 problem(s))" in result.output
    assert "line 3: unknown county '火星县'" in result.output
    assert "line 4: empty reason" in result.output
    assert (count(Source), count(Source, Source.special_supervision.is_(True))) == before


# --- the demo ---------------------------------------------------------------------------------


def test_demo_sources(db_session):
    total = count(Source)
    assert 500 <= total <= 800
    sources = db.session.execute(
        sa.select(Source.id, Source.location, Source.grid_id, Source.county_id).order_by(Source.id)
    ).all()
    sample = sources[:: max(1, len(sources) // 120)]
    villages = {
        g.id: g
        for g in db.session.scalars(sa.select(Grid).where(Grid.id.in_({s.grid_id for s in sample})))
    }
    for sid, location, grid_id, county_id in sample:
        village = villages[grid_id]
        area = grid_queries.grid_shape(village)
        assert area.contains(to_shape(location)), f"source {sid} lies outside {village.name}"
        assert village.ancestor_ids[1] == county_id


def test_the_demo_supervisor_has_sources_to_patrol(db_session):
    mine = db.session.scalars(sa.select(Source).where(Source.grid_id == cun_village().id)).all()
    active = [s for s in mine if s.status == "active"]
    assert len(active) >= 4
    assert not any(s.special_supervision for s in mine)
    assert all(s.location is not None for s in mine)


def test_demo_history_and_surveys_are_consistent(db_session):
    inactive = db.session.scalars(sa.select(Source).where(Source.status != "active")).all()
    assert inactive, "the demo has some relocated, stopped or bankrupt sources"
    for source in inactive:
        change = db.session.scalar(
            sa.select(SourceChange).where(SourceChange.source_id == source.id)
        )
        assert change.status == source.status and change.effective_on == source.status_since
    today = local_today()
    surveyed = db.session.execute(
        sa.select(Source.last_surveyed_on, Source.county_id, Membership.role, Membership.grid_id)
        .join(Membership, Membership.user_id == Source.last_surveyed_by_id)
        .where(Source.last_surveyed_on.is_not(None))
    ).all()
    assert len(surveyed) > count(Source) // 2
    for on, county_id, role, grid_id in surveyed:
        assert (role, grid_id) == (Role.OFFICE, county_id)
        # the last 90 days as of loading: a day more when the run has crossed midnight since
        assert max(DEMO_START, today - timedelta(days=90)) <= on <= today
    assert count(SourceSurvey) == len(surveyed)
    key = count(Source, Source.key_polluter.is_(True))
    special = count(Source, Source.special_supervision.is_(True))
    assert 0 < key < count(Source) // 8 and 0 < special < count(Source) // 15


def _annex_rows():
    with open(ANNEX_2025, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_no_real_company_of_the_annex_is_in_the_demo(db_session):
    companies = {row["企业名称"] for row in _annex_rows()}
    assert len(companies) == 23
    names = set(db.session.scalars(sa.select(Source.name)))
    assert not names & companies


def test_the_published_2025_list_imports(runner):
    """The prefecture's real list (004 annex 2, kept in data/changji) goes in whole."""
    before = count(Source)
    result = runner.invoke(args=["sources", "import", ANNEX_2025])
    assert result.exit_code == 0, result.output
    assert count(Source) == before + 23
    assert (
        count(
            Source,
            Source.special_supervision.is_(True),
            Source.name.in_([r["企业名称"] for r in _annex_rows()]),
        )
        == 23
    )
