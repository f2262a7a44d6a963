"""Every route and every field it reads, sent what a hostile or broken client sends.

For each route the table below gives who may use it, an ordinary request (the baseline, which
must be accepted) and, for each field, its kind and label. Each field is then sent, in turn, the
values that are wrong for its kind — ids past 2^63, dates at year 1 and 9999, NaN, Infinity,
1e308, control characters, CR/LF, NUL bytes, 100,000 characters, empty and bomb-like files —
with every other field as in the baseline. Each must be refused with a 4xx whose message names
the field in the request's language, nothing may be written, and no request may answer 5xx.

A route without an entry, or a field a route reads (grid.inputs records every name read) that
its entry does not list, fails `test_every_route_is_listed` / the route's own test. The sync
API's JSON and multipart fields are covered by tests/test_sync_hostile.py, which the
entries here point to.
"""

import html
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import g, request_finished
from flask_babel import force_locale
from flask_babel import gettext as babel_gettext
from PIL import Image

from alerts import raising
from assess import air_services, snapshots
from assess import appeals as assess_appeals
from assess import services as assess_services
from assess.models import MonthSnapshot, RecordKind
from evidence.services import photo_store
from extensions import db, limiter
from grid import services as grid_services
from grid.demo import DEMO_PASSWORD
from grid.models import Membership, User, UserSession
from grid.time import local_today
from notify import services as notify_services
from problems import services as problem_services
from problems.models import problem_photo
from sources import services as ledger
from tests import factories
from tests.conftest import csrf_token

BIG = "1" * 30  # past 2^63
HUGE_TEXT = "x" * 100_000

# What is wrong for each kind of field. Values a field of that kind may legitimately hold are
# not sent (a note may say "NaN"); every value listed must be refused.
WRONG = {
    "id": [
        "9223372036854775808",
        "1180591620717411303424",
        "-1",
        "0",
        "NaN",
        "Infinity",
        "1e308",
        "1.5",
        "1\x00",
        "1\r\n2",
        "١٢",
        HUGE_TEXT,
    ],
    "int": ["9223372036854775808", "NaN", "Infinity", "1e308", "-1e308", "1\x00", HUGE_TEXT],
    "number": ["NaN", "Infinity", "-Infinity", "1e308", "999", "-999", "1\x00", HUGE_TEXT],
    "radius": ["NaN", "Infinity", "-1", "1e308", "1\x00", HUGE_TEXT],  # metres: 999 is fine
    "day": [
        "0001-01-01",
        "9999-12-31",
        "2026-02-30",
        "NaN",
        "20260101",
        "2026-01-01\x00",
        "2026-01-01\r\n",
        HUGE_TEXT,
    ],
    "month": ["0001-01", "9999-12", "2026-13", "NaN", "2026-01\x00", HUGE_TEXT],
    "text": ["a\r\nSet-Cookie: x=1", "a\x00b", "\x1b[31m", "a\x7fb", HUGE_TEXT],
    "long_text": ["a\x00b", "\x07ding", "\x1b[2J", HUGE_TEXT],
    "choice": ["NaN", "\x00", "<img src=x onerror=alert(1)>", "a\r\nb", HUGE_TEXT],
    "flag": [],  # anything that is not a tick is no tick
    # Files go as (bytes, file name). A file input left empty sends no name: that is no file.
    "file": [
        (b"", "empty.jpg"),
        (b"GIF89a not a photo", "photo.jpg"),
        ("BOMB", "bomb.png"),  # 7,740 x 7,740 pixels in a few kilobytes (made below)
    ],
    "document": [(b"", "empty.pdf"), (b"MZ\x90\x00 a program", "permit.pdf")],
}


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (7740, 7740), 1).save(out, "PNG", optimize=True)
    return out.getvalue()


@dataclass(frozen=True)
class F:
    """A field: its kind (a key of WRONG), its label as shown (an English msgid), and where it
    goes ("form" or "query")."""

    kind: str
    label: str
    where: str = "form"


@dataclass
class Route:
    method: str
    actor: str | None  # a key of Ctx.people, or None for anyone
    path: Callable  # Ctx -> the path, with ids of records made for the test
    baseline: Callable = lambda ctx: {}  # Ctx -> the fields of an accepted request
    fields: dict[str, F] = field(default_factory=dict)
    note: str = ""


@dataclass
class Ctx:
    world: factories.World
    people: dict
    ids: dict


# --- the table ------------------------------------------------------------------------------

SOURCE_FIELDS = {
    "name": F("text", "Source name"),
    "kind": F("text", "Kind"),
    "lat": F("number", "Latitude"),
    "lon": F("number", "Longitude"),
    "address": F("text", "Address"),
    "key_polluter": F("flag", "Key polluter"),
    "special_supervision": F("flag", "Special supervision"),
    "special_reason": F("text", "Reason"),
    "contact_name": F("text", "Contact person"),
    "contact_phone": F("text", "Contact phone"),
    "notes": F("long_text", "Notes"),
}


def _source_baseline(ctx):
    lon, lat = ctx.world.inside()
    return {
        "name": "试验砖厂",
        "kind": "industrial",
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "address": "一号路",
        "special_supervision": "1",
        "special_reason": "群众投诉",
        "contact_name": "张三",
        "contact_phone": "0994-1234567",
        "notes": "第一行\n第二行",
    }


FINDING_FIELDS = {
    "county": F("id", "County"),
    "found_on": F("day", "Found on"),
    "kind": F("text", "Kind"),
    "media_level": F("text", "Media level"),
    "category": F("text", "Category"),
    "lat": F("number", "Latitude"),
    "lon": F("number", "Longitude"),
    "place": F("text", "Place"),
    "description": F("long_text", "Description"),
}


def _finding_baseline(ctx):
    lon, lat = ctx.world.inside()
    return {
        "county": str(ctx.world.county.id),
        "found_on": local_today().isoformat(),
        "kind": "media",
        "media_level": "region",
        "category": "dust",
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "place": "路口",
        "description": "媒体曝光扬尘",
    }


def _complaint_baseline(ctx):
    lon, lat = ctx.world.inside()
    return {
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "category": "dust",
        "description": "工地扬尘很大",
        "name": "李四",
        "contact": "13800000000",
    }


STATION_FIELDS = {
    "name": F("text", "Station name"),
    "kind": F("choice", "Kind"),
    "lat": F("number", "Latitude"),
    "lon": F("number", "Longitude"),
    "mn": F("text", "HJ 212 MN"),
    "lenient": F("flag", "Lenient protocol"),
}


def _station_baseline(c: Ctx) -> dict:
    lon, lat = c.world.inside(0)
    return {
        "name": "敌意测试微站",
        "kind": "micro",
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "mn": "CJH652300000000000000001",
        "lenient": "",
    }


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "desk.home"): Route("GET", "supervisor", lambda c: "/"),
    ("GET", "desk.offline"): Route("GET", None, lambda c: "/offline"),
    ("GET", "desk.manifest"): Route("GET", None, lambda c: "/manifest.webmanifest"),
    ("GET", "desk.service_worker"): Route("GET", None, lambda c: "/sw.js"),
    ("GET", "static"): Route("GET", None, lambda c: "/static/js/app.js"),
    ("POST", "desk.set_language"): Route(
        "POST",
        None,
        lambda c: "/lang",
        lambda c: {"lang": "en"},
        {"lang": F("choice", "Language")},
    ),
    # --- grid ---
    ("GET", "grid.index"): Route("GET", "county_office", lambda c: "/grids/"),
    ("GET", "grid.show"): Route(
        "GET",
        "county_office",
        lambda c: f"/grids/{c.world.county.id}",
        lambda c: {"history": "1"},
        {"history": F("flag", "History", "query")},
    ),
    ("GET", "grid.staffing"): Route(
        "GET",
        "county_office",
        lambda c: f"/grids/{c.world.county.id}/staffing",
        lambda c: {"severity": "warning"},
        {"severity": F("choice", "Severity", "query")},
    ),
    ("POST", "grid.add_channel"): Route(
        "POST",
        "admin",
        lambda c: f"/grids/{c.world.county.id}/channels",
        lambda c: {"name": "县环保热线", "contact": "0994-12369"},
        {"name": F("text", "Channel"), "contact": F("text", "Contact")},
    ),
    ("POST", "grid.retire_channel"): Route(
        "POST", "admin", lambda c: f"/grids/channels/{c.ids['channel']}/retire"
    ),
    ("GET", "grid.map_page"): Route(
        "GET",
        "county_office",
        lambda c: "/grids/map",
        lambda c: {"grid": str(c.world.county.id)},
        {"grid": F("id", "Grid", "query")},
    ),
    ("GET", "grid.geojson"): Route(
        "GET",
        "county_office",
        lambda c: f"/grids/{c.world.county.id}/map.geojson",
        lambda c: {"z": "9"},
        {"z": F("int", "Zoom", "query")},
    ),
    ("GET", "grid.locate"): Route(
        "GET",
        "county_office",
        lambda c: "/grids/locate",
        lambda c: dict(zip(("lon", "lat"), map(str, c.world.inside()), strict=True)),
        {"lat": F("number", "Latitude", "query"), "lon": F("number", "Longitude", "query")},
    ),
    ("GET", "grid.disclosure_index"): Route("GET", None, lambda c: "/public/"),
    ("GET", "grid.disclosure"): Route("GET", None, lambda c: f"/public/{c.world.county.id}"),
    ("GET", "grid.people_index"): Route(
        "GET",
        "admin",
        lambda c: "/people/",
        lambda c: {"q": "测试", "page": "1"},
        {"q": F("text", "Search", "query"), "page": F("int", "Page", "query")},
    ),
    ("GET", "grid.people_new"): Route("GET", "admin", lambda c: "/people/new"),
    ("POST", "grid.people_new"): Route(
        "POST",
        "admin",
        lambda c: "/people/new",
        lambda c: {
            "username": f"h{uuid.uuid4().hex[:8]}",
            "name": "王五",
            "password": "a-long-password-1",
            "mobile": "",
            "office_phone": "0994-7654321",
        },
        {
            "username": F("text", "Log-in name"),
            "name": F("text", "Name"),
            "password": F("text", "Password"),
            "mobile": F("text", "Mobile"),
            "office_phone": F("text", "Office phone"),
        },
    ),
    ("GET", "grid.people_show"): Route(
        "GET", "admin", lambda c: f"/people/{c.world.supervisor.id}"
    ),
    ("POST", "grid.people_update"): Route(
        "POST",
        "admin",
        lambda c: f"/people/{c.world.supervisor.id}",
        lambda c: {"name": "改名", "mobile": "", "office_phone": "", "password": "", "active": "1"},
        {
            "name": F("text", "Name"),
            "mobile": F("text", "Mobile"),
            "office_phone": F("text", "Office phone"),
            "password": F("text", "Password"),
            "active": F("flag", "Active"),
        },
    ),
    ("POST", "grid.people_appoint"): Route(
        "POST",
        "admin",
        lambda c: f"/people/appoint/{c.world.township.id}",
        lambda c: {
            "login": c.people["spare"].username,
            "role": "subhead",
            "started_on": local_today().isoformat(),
            "full_time": "1",
            "title": "副镇长",
            "covers": str(c.world.village.id),
        },
        {
            "login": F("text", "Log-in name or mobile number"),
            "role": F("choice", "Post"),
            "started_on": F("day", "From"),
            "full_time": F("choice", "Full-time"),
            "title": F("text", "Title"),
            "covers": F("id", "Covers"),
        },
    ),
    ("POST", "grid.people_end_post"): Route(
        "POST",
        "admin",
        lambda c: f"/people/posts/{c.ids['membership']}/end",
        lambda c: {"last_day": local_today().isoformat()},
        {"last_day": F("day", "Last day")},
    ),
    ("GET", "grid.login"): Route(
        "GET",
        None,
        lambda c: "/login",
        lambda c: {"next": "/sources/"},
        {"next": F("flag", "Next", "query")},
        note="next is checked, not refused: anything but a local path goes home",
    ),
    ("POST", "grid.login"): Route(
        "POST",
        None,
        lambda c: "/login",
        lambda c: {"login": c.people["spare"].username, "password": factories.PASSWORD},
        {"login": F("text", "Log-in name or mobile number"), "password": F("text", "Password")},
    ),
    ("POST", "grid.logout"): Route("POST", "supervisor", lambda c: "/logout"),
    ("GET", "grid.account_sessions"): Route("GET", "supervisor", lambda c: "/account/sessions"),
    ("POST", "grid.account_end_session"): Route(
        "POST", "supervisor", lambda c: f"/account/sessions/{c.ids['other_session']}/end"
    ),
    ("POST", "grid.people_end_sessions"): Route(
        "POST", "admin", lambda c: f"/people/{c.world.supervisor.id}/sessions/end"
    ),
    # --- notifications ---
    ("GET", "notify.index"): Route("GET", "supervisor", lambda c: "/notifications"),
    ("POST", "notify.mark_read"): Route("POST", "supervisor", lambda c: "/notifications/read"),
    ("GET", "notify.badge"): Route("GET", "supervisor", lambda c: "/notifications/badge"),
    ("GET", "notify.settings"): Route("GET", "supervisor", lambda c: "/notifications/settings"),
    ("POST", "notify.save_settings"): Route(
        "POST",
        "supervisor",
        lambda c: "/notifications/settings",
        lambda c: {"web_push": "1", "robot": "1", "sms": ""},
        {"web_push": F("flag", "Web Push"), "robot": F("flag", "Robot"), "sms": F("flag", "SMS")},
    ),
    ("POST", "notify.push_subscribe"): Route(
        "POST", "supervisor", lambda c: "/notifications/push", note="tests/test_notify_pages.py"
    ),
    ("POST", "notify.push_unsubscribe"): Route(
        "POST",
        "supervisor",
        lambda c: "/notifications/push/delete",
        lambda c: {"endpoint": "https://push.example.com/send/abc"},
        {"endpoint": F("text", "Push subscription")},
    ),
    ("GET", "notify.deliveries"): Route(
        "GET",
        "county_office",
        lambda c: "/notifications/deliveries",
        lambda c: {"page": "1"},
        {"page": F("int", "Page", "query")},
    ),
    ("GET", "notify.robots_index"): Route(
        "GET",
        "county_office",
        lambda c: "/notifications/robots",
        lambda c: {"grid": str(c.world.county.id)},
        {"grid": F("id", "Grid", "query")},
    ),
    ("POST", "notify.robots_add"): Route(
        "POST",
        "county_office",
        lambda c: "/notifications/robots",
        lambda c: {
            "grid": str(c.world.county.id),
            "name": "县大气办群",
            "kind": "dingtalk",
            "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abc123",
            "secret": "SECabc123",
        },
        {
            "grid": F("id", "Grid", "query"),
            "name": F("text", "Robot name"),
            "kind": F("choice", "Robot type"),
            "webhook_url": F("text", "Webhook URL"),
            "secret": F("text", "Signing secret"),
        },
    ),
    ("GET", "notify.robots_edit"): Route(
        "GET", "county_office", lambda c: f"/notifications/robots/{c.ids['robot']}/edit"
    ),
    ("POST", "notify.robots_update"): Route(
        "POST",
        "county_office",
        lambda c: f"/notifications/robots/{c.ids['robot']}/edit",
        lambda c: {
            "name": "改名群",
            "enabled": "1",
            "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=new456",
            "secret": "SECnew456",
            "clear_secret": "",
        },
        {
            "name": F("text", "Robot name"),
            "enabled": F("flag", "In use"),
            "webhook_url": F("text", "Webhook URL"),
            "secret": F("text", "Signing secret"),
            "clear_secret": F("flag", "Remove the signing secret"),
        },
    ),
    ("POST", "notify.robots_test"): Route(
        "POST",
        "county_office",
        lambda c: f"/notifications/robots/{c.ids['robot']}/test",
        note="the robot's address is a closed local port: the answer is shown, not refused",
    ),
    ("POST", "notify.robots_delete"): Route(
        "POST", "county_office", lambda c: f"/notifications/robots/{c.ids['robot']}/delete"
    ),
    # --- sources ---
    ("GET", "sources.index"): Route(
        "GET",
        "county_office",
        lambda c: "/sources/",
        lambda c: {
            "grid": str(c.world.county.id),
            "kind": "industrial",
            "status": "active",
            "special": "1",
            "q": "砖",
            "page": "1",
        },
        {
            "grid": F("id", "Grid", "query"),
            "kind": F("choice", "Kind", "query"),
            "status": F("choice", "Status", "query"),
            "special": F("flag", "Special", "query"),
            "q": F("text", "Search", "query"),
            "page": F("int", "Page", "query"),
        },
    ),
    ("GET", "sources.new"): Route(
        "GET",
        "county_office",
        lambda c: "/sources/new",
        lambda c: {"county": str(c.world.county.id)},
        {"county": F("id", "County", "query")},
    ),
    ("POST", "sources.new"): Route(
        "POST",
        "county_office",
        lambda c: "/sources/new",
        lambda c: {**_source_baseline(c), "county": str(c.world.county.id)},
        {**SOURCE_FIELDS, "county": F("id", "County", "query")},
    ),
    ("GET", "sources.show"): Route("GET", "county_office", lambda c: f"/sources/{c.ids['source']}"),
    ("POST", "sources.update"): Route(
        "POST",
        "county_office",
        lambda c: f"/sources/{c.ids['source']}",
        _source_baseline,
        SOURCE_FIELDS,
    ),
    ("POST", "sources.change_status"): Route(
        "POST",
        "county_office",
        lambda c: f"/sources/{c.ids['source']}/status",
        lambda c: {
            "status": "long_stopped",
            "effective_on": local_today().isoformat(),
            "note": "停产",
        },
        {
            "status": F("text", "Status"),
            "effective_on": F("day", "From"),
            "note": F("text", "Note"),
        },
    ),
    ("POST", "sources.survey"): Route(
        "POST",
        "county_office",
        lambda c: f"/sources/{c.ids['source']}/survey",
        lambda c: {"surveyed_on": local_today().isoformat(), "note": "正常"},
        {"surveyed_on": F("day", "Surveyed on"), "note": F("long_text", "Note")},
    ),
    ("POST", "sources.move"): Route(
        "POST",
        "county_office",
        lambda c: f"/sources/{c.ids['source']}/move",
        lambda c: {"village": str(c.world.villages[1].id), "note": "划转"},
        {"village": F("id", "Village"), "note": F("text", "Note")},
    ),
    ("POST", "sources.add_document"): Route(
        "POST",
        "county_office",
        lambda c: f"/sources/{c.ids['source']}/documents",
        lambda c: {"title": "排污许可证", "file": (PDF, "permit.pdf")},
        {"title": F("text", "Document title"), "file": F("document", "File")},
    ),
    ("GET", "sources.document"): Route(
        "GET", "county_office", lambda c: f"/sources/documents/{c.ids['document']}"
    ),
    # --- patrols ---
    ("GET", "patrol.index"): Route(
        "GET",
        "supervisor",
        lambda c: "/patrol/",
        lambda c: {"grid": str(c.world.village.id)},
        {"grid": F("id", "Grid", "query")},
    ),
    ("GET", "patrol.sources_json"): Route(
        "GET", "supervisor", lambda c: f"/patrol/{c.world.village.id}/sources.json"
    ),
    ("GET", "patrol.show"): Route("GET", "supervisor", lambda c: f"/patrol/{c.ids['patrol']}"),
    ("GET", "patrol.coverage_page"): Route(
        "GET",
        "county_office",
        lambda c: "/patrol/coverage",
        lambda c: {"grid": str(c.world.county.id), "day": local_today().isoformat()},
        {
            "grid": F("id", "Grid", "query"),
            "day": F("day", "Day", "query"),
            "month": F("month", "Month", "query"),
        },
    ),
    ("GET", "evidence.photo"): Route(
        "GET", "supervisor", lambda c: f"/patrol/photos/{c.ids['photo']}/thumb"
    ),
    # --- problems ---
    ("GET", "problems.show"): Route(
        "GET", "supervisor", lambda c: f"/patrol/problems/{c.ids['problem']}"
    ),
    ("GET", "problems.sent"): Route(
        "GET", "supervisor", lambda c: f"/patrol/problems/sent/{c.ids['problem_client']}"
    ),
    ("POST", "problems.act"): Route(
        "POST",
        "supervisor",
        lambda c: f"/problems/{c.ids['problem']}/act",
        lambda c: {
            "event": "comment",
            "version": str(c.ids["problem_version"]),
            "comment": "已到现场\n正在处理",
            "assignee_login": "",
            "assignee_department": "",
            "lead_department": "",
            "due_date": (local_today() + timedelta(days=7)).isoformat(),
            **dict(zip(("lon", "lat"), map(str, c.world.inside()), strict=True)),
            "accuracy": "12",
        },
        {
            "event": F("text", "Step"),
            "version": F("int", "Version"),
            "comment": F("long_text", "Comment"),
            "assignee_login": F("text", "Assignee"),
            "assignee_department": F("text", "Department"),
            "lead_department": F("text", "Lead department"),
            "due_date": F("day", "Rectify by"),
            "lat": F("number", "Latitude"),
            "lon": F("number", "Longitude"),
            "accuracy": F("radius", "Accuracy"),
            "photos": F("file", "Photos"),
        },
    ),
    ("GET", "problems.inbox"): Route("GET", "supervisor", lambda c: "/problems/inbox"),
    ("GET", "problems.index"): Route(
        "GET",
        "county_office",
        lambda c: "/problems/",
        lambda c: {"state": "open", "overdue": "1", "grid": str(c.world.county.id), "page": "1"},
        {
            "state": F("choice", "State", "query"),
            "overdue": F("flag", "Overdue", "query"),
            "grid": F("id", "Grid", "query"),
            "page": F("int", "Page", "query"),
        },
    ),
    ("GET", "problems.new"): Route("GET", "county_office", lambda c: "/problems/new"),
    ("POST", "problems.new"): Route(
        "POST",
        "county_office",
        lambda c: "/problems/new",
        lambda c: {
            **{k: v for k, v in _complaint_baseline(c).items() if k in ("lat", "lon")},
            "category": "dust",
            "severity": "moderate",
            "description": "来电反映",
        },
        {
            "lat": F("number", "Latitude"),
            "lon": F("number", "Longitude"),
            "category": F("text", "Category"),
            "severity": F("text", "Severity"),
            "description": F("long_text", "Description"),
            "photos": F("file", "Photos"),
        },
    ),
    ("GET", "problems.complaint"): Route("GET", None, lambda c: "/complaint"),
    ("POST", "problems.complaint"): Route(
        "POST",
        None,
        lambda c: "/complaint",
        _complaint_baseline,
        {
            "lat": F("number", "Latitude"),
            "lon": F("number", "Longitude"),
            "category": F("text", "Category"),
            "description": F("long_text", "Description"),
            "name": F("text", "Your name"),
            "contact": F("text", "Contact"),
            "photos": F("file", "Photos"),
        },
    ),
    ("GET", "problems.findings_index"): Route(
        "GET",
        "zhou",
        lambda c: "/findings/",
        lambda c: {
            "county": str(c.world.county.id),
            "month": local_today().strftime("%Y-%m"),
            "decision": "pending",
            "page": "1",
        },
        {
            "county": F("id", "County", "query"),
            "month": F("month", "Month", "query"),
            "decision": F("choice", "Decision", "query"),
            "page": F("int", "Page", "query"),
        },
    ),
    ("GET", "problems.findings_new"): Route(
        "GET",
        "zhou",
        lambda c: "/findings/new",
        lambda c: {"county": str(c.world.county.id)},
        {"county": F("id", "County", "query")},
    ),
    ("POST", "problems.findings_new"): Route(
        "POST", "zhou", lambda c: "/findings/new", _finding_baseline, FINDING_FIELDS
    ),
    ("GET", "problems.findings_show"): Route(
        "GET", "zhou", lambda c: f"/findings/{c.ids['finding']}"
    ),
    ("POST", "problems.findings_decide"): Route(
        "POST",
        "zhou",
        lambda c: f"/findings/{c.ids['finding']}/decide",
        lambda c: {
            "decision": "already_reported",
            "problem": str(c.ids["problem"]),
            "other_problems": "",
        },
        {
            "decision": F("choice", "Decision"),
            "problem": F("id", "Reports"),
            "other_problems": F("id", "Other report numbers"),
        },
    ),
    # --- the phones' API: fields in tests/test_sync_hostile.py ---
    ("GET", "sync.token"): Route("GET", "supervisor", lambda c: "/sync/token"),
    ("POST", "sync.items"): Route(
        "POST", "supervisor", lambda c: "/sync/items", note="tests/test_sync_hostile.py"
    ),
    ("POST", "sync.photos"): Route(
        "POST", "supervisor", lambda c: "/sync/photos", note="tests/test_sync_hostile.py"
    ),
    # --- alerts ---
    ("GET", "alerts.index"): Route(
        "GET",
        "county_office",
        lambda c: "/alerts/",
        lambda c: {"status": "open"},
        {"status": F("choice", "Status", "query"), "page": F("int", "Page", "query")},
    ),
    ("GET", "alerts.show"): Route("GET", "county_office", lambda c: f"/alerts/{c.ids['alert']}"),
    ("GET", "alerts.stations"): Route("GET", "county_office", lambda c: "/alerts/stations"),
    ("GET", "alerts.station_new"): Route("GET", "county_office", lambda c: "/alerts/stations/new"),
    ("POST", "alerts.station_new"): Route(
        "POST",
        "county_office",
        lambda c: "/alerts/stations/new",
        lambda c: {
            "code": "CJ-H001",
            **_station_baseline(c),
            "issue_token": "1",
            "issue_password": "",
            "password": "Hx1234",
        },
        {
            "code": F("text", "Station code"),
            **STATION_FIELDS,
            "issue_token": F("flag", "Issue a token for the readings API (HTTP)"),
            "issue_password": F("flag", "Make an HJ 212 password"),
            "password": F("text", "HJ 212 password"),
        },
    ),
    ("GET", "alerts.station_show"): Route(
        "GET", "county_office", lambda c: f"/alerts/stations/{c.ids['station']}"
    ),
    ("POST", "alerts.station_update"): Route(
        "POST",
        "county_office",
        lambda c: f"/alerts/stations/{c.ids['station']}",
        _station_baseline,
        STATION_FIELDS,
    ),
    ("POST", "alerts.station_status"): Route(
        "POST",
        "county_office",
        lambda c: f"/alerts/stations/{c.ids['station']}/status",
        lambda c: {"status": "maintenance", "note": "校准"},
        {"status": F("choice", "Status"), "note": F("text", "Reason")},
    ),
    ("POST", "alerts.station_secret"): Route(
        "POST",
        "county_office",
        lambda c: f"/alerts/stations/{c.ids['station']}/secret",
        lambda c: {"which": "password", "password": "Hx1234"},
        {"which": F("choice", "Secret"), "password": F("text", "HJ 212 password")},
    ),
    ("POST", "alerts.send"): Route(
        "POST",
        "county_office",
        lambda c: f"/alerts/{c.ids['alert']}/dispatch",
        lambda c: {"supervisor": str(c.world.supervisor.id), "note": "请立即到场\n拍照反馈"},
        {"supervisor": F("id", "Supervisors"), "note": F("long_text", "Instruction")},
    ),
    ("POST", "alerts.close"): Route(
        "POST",
        "zhou",
        lambda c: f"/alerts/{c.ids['alert']}/close",
        lambda c: {"note": "已处置\n复查正常"},
        {"note": F("long_text", "How it was dealt with")},
    ),
    ("GET", "alerts.new"): Route("GET", "zhou", lambda c: "/alerts/new"),
    ("POST", "alerts.new"): Route(
        "POST",
        "zhou",
        lambda c: "/alerts/new",
        lambda c: {"station": str(c.ids["station"]), "pollutant": "PM2.5", "note": "核查\n数据"},
        {
            "station": F("id", "Station"),
            "pollutant": F("choice", "Pollutant"),
            "note": F("long_text", "What to look into"),
        },
    ),
    ("GET", "alerts.consultation"): Route(
        "GET",
        "zhou",
        lambda c: "/alerts/consultation",
        lambda c: {"day": (local_today() - timedelta(days=1)).isoformat()},
        {"day": F("day", "Day", "query")},
    ),
    ("POST", "alerts.consultation_push"): Route(
        "POST",
        "zhou",
        lambda c: "/alerts/consultation",
        lambda c: {"county": str(c.world.county.id), "note": "一、核查微站\n二、督促整改"},
        {"county": F("id", "Counties"), "note": F("long_text", "Problems to deal with")},
    ),
    # --- the assessment ---
    ("GET", "assess.index"): Route(
        "GET",
        "zhou",
        lambda c: "/assess/",
        lambda c: {"month": (local_today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")},
        {"month": F("month", "Month", "query")},
    ),
    ("GET", "assess.county"): Route(
        "GET",
        "county_office",
        lambda c: f"/assess/{c.world.county.id}",
        lambda c: {"month": (local_today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")},
        {"month": F("month", "Month", "query")},
    ),
    ("GET", "assess.people"): Route(
        "GET",
        "county_office",
        lambda c: f"/assess/people/{c.world.county.id}",
        lambda c: {"month": local_today().strftime("%Y-%m")},
        {"month": F("month", "Month", "query")},
    ),
    ("GET", "assess.person"): Route(
        "GET",
        "county_office",
        lambda c: f"/assess/people/{c.world.township.id}/{c.world.supervisor.id}",
        lambda c: {"month": local_today().strftime("%Y-%m")},  # posted since 30 days ago
        {"month": F("month", "Month", "query")},
    ),
    ("POST", "assess.record_new"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/{c.world.county.id}/records",
        lambda c: {"month": _months_ago(1), "kind": "bonus", "title": "主动发现重大问题"},
        {
            "month": F("month", "Month"),
            "kind": F("choice", "What is recorded"),
            "title": F("text", "Title"),
            "detail": F("long_text", "Details"),
            "due_on": F("day", "Deadline"),
            "rectified_on": F("day", "Rectified on"),
            "bad_influence": F("flag", ""),
        },
    ),
    ("POST", "assess.record_rectified"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/records/{c.ids['assess_record']}/rectified",
        lambda c: {"rectified_on": (local_today() - timedelta(days=1)).isoformat()},
        {"rectified_on": F("day", "Rectified on")},
    ),
    ("POST", "assess.record_withdraw"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/records/{c.ids['assess_record']}/withdraw",
        lambda c: {"reason": "重复录入"},
        {"reason": F("text", "Reason")},
    ),
    ("POST", "assess.correction_new"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/{c.world.county.id}/corrections",
        lambda c: {
            "month": _months_ago(2),
            "fact": "missed_problems",
            "value": "3",
            "reason": "核实",
        },
        {
            "month": F("month", "Month"),
            "fact": F("choice", "Fact"),
            "value": F("text", "Value"),
            "reason": F("text", "Reason"),
        },
    ),
    ("POST", "assess.freeze"): Route(
        "POST",
        "zhou",
        lambda c: "/assess/freeze",
        lambda c: {"month": _months_ago(2)},
        {"month": F("month", "Month"), "veto": F("choice", "Veto")},
    ),
    ("POST", "assess.appeal_new"): Route(
        "POST",
        "county_office",
        lambda c: f"/assess/{c.world.county.id}/appeals",
        lambda c: {"month": _months_ago(1), "item": "item5", "reason": "该问题已按时交办"},
        {
            "month": F("month", "Month"),
            "item": F("choice", "Deduction"),
            "reason": F("long_text", "Reason"),
        },
    ),
    ("POST", "assess.appeal_decide"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/appeals/{c.ids['appeal']}/decision",
        lambda c: {"decision": "accept", "value": "0", "answer": "核实属于邻县"},
        {
            "decision": F("choice", "Decision"),
            "value": F("int", "Item 4: problems found above and missed"),
            "answer": F("long_text", "Reason"),
        },
    ),
    ("GET", "assess.notice"): Route(
        "GET",
        "zhou",
        lambda c: "/assess/notice",
        lambda c: _frozen_last_month(),
        {"month": F("month", "Month", "query")},
    ),
    ("GET", "assess.notice_xlsx"): Route(
        "GET",
        "county_office",
        lambda c: "/assess/notice.xlsx",
        lambda c: _frozen_last_month(),
        {"month": F("month", "Month", "query")},
    ),
    ("GET", "assess.air_ranking"): Route(
        "GET",
        "county_office",
        lambda c: "/assess/air",
        lambda c: {"month": _months_ago(1)},
        {"month": F("month", "Month", "query")},
    ),
    ("POST", "assess.air_tampering_new"): Route(
        "POST",
        "zhou",
        lambda c: "/assess/air/tamperings",
        lambda c: {
            "station": str(c.ids["station"]),
            "first_day": (local_today() - timedelta(days=3)).isoformat(),
            "last_day": (local_today() - timedelta(days=2)).isoformat(),
            "kind": "filter",
            "reason": "加装过滤棉\n现场核实",
        },
        {
            "station": F("id", "Station"),
            "first_day": F("day", "First day"),
            "last_day": F("day", "Last day"),
            "kind": F("choice", "What was done"),
            "reason": F("long_text", "What was found"),
        },
    ),
    ("POST", "assess.air_tampering_withdraw"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/air/tamperings/{c.ids['tampering']}/withdraw",
        lambda c: {"reason": "核实有误"},
        {"reason": F("text", "Reason")},
    ),
    ("GET", "assess.key_areas"): Route(
        "GET",
        "county_office",
        lambda c: "/assess/key-areas",
        lambda c: {"week": local_today().isoformat(), "month": _months_ago(0)},
        {"week": F("day", "Week", "query"), "month": F("month", "Month", "query")},
    ),
    ("POST", "assess.key_area_new"): Route(
        "POST",
        "zhou",
        lambda c: "/assess/key-areas/new",
        lambda c: {
            "county": str(c.world.county.id),
            "key_grid": "",
            "week": local_today().isoformat(),
            "title": "渣土车未密闭",
            "detail": "第一行\n第二行",
        },
        {
            "county": F("id", "County"),
            "key_grid": F("id", "Key grid"),
            "week": F("day", "Week"),
            "title": F("text", "Problem or task"),
            "detail": F("long_text", "Detail"),
        },
    ),
    ("POST", "assess.key_area_check"): Route(
        "POST",
        "zhou",
        lambda c: f"/assess/key-areas/{c.ids['key_area']}/checks",
        lambda c: {"checked_on": local_today().isoformat(), "rectified": "", "note": "仍未\n整改"},
        {
            "checked_on": F("day", "Checked on"),
            "rectified": F("flag", "Rectified"),
            "note": F("long_text", "Note"),
        },
    ),
    # --- the stations' API: fields in tests/test_readings.py ---
    ("GET", "alerts.openapi"): Route("GET", None, lambda c: "/api/v1/openapi.json"),
    ("POST", "alerts.readings"): Route(
        "POST", None, lambda c: "/api/v1/readings", note="tests/test_readings.py"
    ),
}

# Routes whose fields are checked elsewhere (a JSON or multipart API), not by these tests.
from tests import hostile_enforce  # noqa: E402 - needs Route and F above

ROUTES.update(hostile_enforce.routes(Route, F))
from tests import hostile_ops  # noqa: E402 - needs Route and F above

ROUTES.update(hostile_ops.routes(Route, F))

ELSEWHERE = {
    ("POST", "sync.items"),
    ("POST", "sync.photos"),
    ("POST", "alerts.readings"),
    ("POST", "notify.push_subscribe"),  # JSON: tests/test_notify_pages.py
}

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- the world each route is tried in --------------------------------------------------------


def _login_as(client, user_name: str, password: str) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    token = csrf_token(client)
    answer = client.post(
        "/login", data={"login": user_name, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 302, f"{user_name} could not sign in"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 140, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def ctx(db_session, make_world, make_source, make_patrol, make_problem, make_photo):
    world = make_world(villages=2)
    demo = {
        u.username: u
        for u in db.session.scalars(sa.select(User).where(User.username.in_(("admin", "zhou"))))
    }
    spare = factories.person("spare")
    source = make_source(world)
    patrol = make_patrol(world, [source])
    problem = make_problem(world, client_id=str(uuid.uuid4()))
    photo = make_photo(world, problem_photo, problem.id)
    channel = grid_services.add_channel(world.county, "旧热线", "0994-0000000")
    document = ledger.add_document(
        source, "旧许可证", PDF, "application/pdf", by=world.county_office, store=photo_store()
    )
    membership = db.session.scalar(
        sa.select(Membership.id).where(Membership.user_id == world.supervisor.id)
    )
    finding = problem_services.record_finding(
        problem_services.FindingFields(
            county_id=world.county.id,
            found_on=local_today(),
            kind="inspection",
            media_level=None,
            category="dust",
            lon=world.inside()[0],
            lat=world.inside()[1],
            place=None,
            description="督察发现",
        ),
        by=demo["zhou"],
    )
    grid_services.start_session(
        world.supervisor, user_agent="旧手机", address="10.0.0.1", lifetime=timedelta(days=30)
    )
    other_session = db.session.scalar(
        sa.select(UserSession.id)
        .where(UserSession.user_id == world.supervisor.id)
        .order_by(UserSession.id.desc())
    )
    station, _token = factories.make_station(world)
    alert = raising.push_by_hand(station, None, "核查", demo["zhou"])
    robot = notify_services.add_robot(
        world.county,
        "dingtalk",
        "旧群",
        "http://127.0.0.1:9/robot/send?access_token=hostile",
        None,
        by=world.county_office,
    )
    assess_record, appeal = _assessment(world)
    db.session.flush()
    people = {
        "supervisor": (world.supervisor.username, factories.PASSWORD),
        "county_office": (world.county_office.username, factories.PASSWORD),
        "admin": ("admin", DEMO_PASSWORD),
        "zhou": ("zhou", DEMO_PASSWORD),
        "spare": spare,
    }
    return Ctx(
        world,
        people,
        {
            "source": source.id,
            "patrol": patrol.id,
            "problem": problem.id,
            "problem_client": problem.client_id,
            "problem_version": problem.version,
            "photo": photo.id,
            "channel": channel.id,
            "document": document.id,
            "membership": membership,
            "finding": finding.id,
            "other_session": other_session,
            "station": station.id,
            "alert": alert.id,
            "robot": robot.id,
            "assess_record": assess_record.id,
            "appeal": appeal.id,
            "tampering": air_services.record_tampering(
                station,
                local_today() - timedelta(days=10),
                local_today() - timedelta(days=9),
                "power",
                "断电",
                by=None,
            ).id,
            "key_area": air_services.schedule_key_area(
                world.county, local_today(), "裸土未苫盖", by=None
            ).id,
            **hostile_enforce.records(world),
        },
    )


def _months_ago(n: int) -> str:
    first = local_today().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}"


def _assessment(world):
    """An inspection item of the county's last month, and an appeal of item 4 of that month
    (frozen, then revised with a missed problem and a late assignment to appeal)."""
    last = date.fromisoformat(_months_ago(1) + "-01")
    db.session.execute(sa.delete(MonthSnapshot))  # the demo's frozen year, set aside
    item = assess_services.record(
        world.county, RecordKind.INSPECTION, "督察交办", by=None, due_on=last + timedelta(days=9)
    )
    frozen = {s.county_id: s for s in snapshots.freeze(last.year, last.month, by=None)}
    changes = {"missed_problems": 1, "unassigned_reports": 1}
    revised = snapshots.revise(frozen[world.county.id], changes, "测试", by=None)
    return item, assess_appeals.file(revised, "item4", "邻县问题", by=None)


def _frozen_last_month() -> dict:
    """The notice's baseline: last month, frozen first when it is not (a notice is made only
    from a frozen month)."""
    first = date.fromisoformat(_months_ago(1) + "-01")
    if not snapshots.latest(first):
        snapshots.freeze(first.year, first.month, by=None)
    return {"month": f"{first:%Y-%m}"}


# --- what a request wrote ---------------------------------------------------------------------


class Writes:
    """Whether a request left rows changed: DML statements are counted per savepoint (the tests
    run inside one outer transaction, so the app's commits release savepoints and its
    rollbacks roll back to them); what was rolled back does not count."""

    def __init__(self, engine):
        self.stack: list[list] = []
        self.kept = 0
        sa.event.listen(engine, "before_cursor_execute", self._execute)
        sa.event.listen(engine, "savepoint", self._savepoint)
        sa.event.listen(engine, "rollback_savepoint", self._rollback)
        sa.event.listen(engine, "release_savepoint", self._release)

    def reset(self):
        self.stack, self.kept = [], 0

    def _execute(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE", "REPLAC"):
            if self.stack:
                self.stack[-1][1] += 1
            else:
                self.kept += 1

    def _savepoint(self, conn, name):
        self.stack.append([name, 0])

    def _pop_to(self, name):
        while self.stack:
            top = self.stack.pop()
            if top[0] == name:
                return top[1]
        return 0

    def _rollback(self, conn, name, context):
        self._pop_to(name)

    def _release(self, conn, name, context):
        count = self._pop_to(name)
        if self.stack:
            self.stack[-1][1] += count
        else:
            self.kept += count


@pytest.fixture(scope="module")
def writes(app):
    with app.app_context():
        return Writes(db.engine)


@pytest.fixture(scope="module")
def fields_read(app):
    """The names of the fields each request read through grid.inputs."""
    seen: list[set] = []

    def record(sender, response, **extra):
        seen.append(set(g.get("fields_read", ())))

    request_finished.connect(record, app)
    yield seen
    request_finished.disconnect(record, app)


# --- sending ----------------------------------------------------------------------------------


_bombs: list[bytes] = []


def _BOMB() -> bytes:  # noqa: N802 - made once, on first use
    if not _bombs:
        _bombs.append(_bomb())
    return _bombs[0]


def _send(client, route: Route, ctx: Ctx, values: dict, language="zh-CN", token=None):
    path = route.path(ctx)
    query = {k: v for k, v in values.items() if route.fields.get(k, F("", "")).where == "query"}
    form = {
        k: (io.BytesIO(_BOMB() if v[0] == "BOMB" else v[0]), v[1]) if isinstance(v, tuple) else v
        for k, v in values.items()
        if k not in query
    }
    limiter.reset()
    client.set_cookie("lang", "en" if language == "en" else "zh_CN")
    if route.method == "GET":
        answer = client.get(path, query_string=query or None)
    else:
        form["csrf_token"] = token or csrf_token(client)
        answer = client.post(path, query_string=query or None, data=form)
    answer.get_data()
    answer.close()
    return answer


def _sign_in(client, route: Route, ctx: Ctx):
    if route.actor is not None:
        _login_as(client, *ctx.people[route.actor])


_SHOWN = re.compile(
    r'<p class="(?:flash flash-error|field-error)"[^>]*>(.*?)</p>'
    r'|<div class="error-box" role="alert">.*?<p>(.*?)</p>',
    re.S,
)


def _refusal(answer) -> str:
    """The messages a refusal shows: JSON's message, the flashed error, the form's field errors
    or the error page's text."""
    if answer.is_json:
        return answer.json.get("message", "")
    found = _SHOWN.findall(answer.get_data(as_text=True))
    return "\n".join(html.unescape(a or b) for a, b in found)


def _message_names(body: str, label: str, language: str) -> bool:
    locale = "zh_CN" if language.startswith("zh") else "en"
    with force_locale(locale):
        shown = babel_gettext(label)
    return shown in body


def _flashed_errors(client) -> list:
    with client.session_transaction() as sess:
        return [m for c, m in sess.get("_flashes", []) if c == "error"]


HOSTILE_ROUTES = sorted(k for k, r in ROUTES.items() if r.fields and k not in ELSEWHERE)


def test_every_route_is_listed(app):
    answered = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert answered - set(ROUTES) == set(), "routes without an entry in tests/test_hostile.py"
    assert set(ROUTES) - answered == set(), "entries for routes the app no longer has"


@pytest.mark.parametrize("key", HOSTILE_ROUTES, ids=lambda k: f"{k[0]} {k[1]}")
def test_wrong_values_are_refused(app, writes, fields_read, client, ctx, key):
    route = ROUTES[key]
    _sign_in(client, route, ctx)
    baseline = route.baseline(ctx)
    token = csrf_token(client) if route.method == "POST" else None  # one per session
    failures = []
    for name, spec in route.fields.items():
        for wrong in WRONG[spec.kind]:
            values = {**baseline, name: wrong}
            writes.reset()
            answer = _send(client, route, ctx, values, token=token)
            body = _refusal(answer)
            shown = repr(wrong[:40])
            if not 400 <= answer.status_code < 500:
                failures.append(f"{name}={shown}: {answer.status_code}")
            elif spec.kind in ("file", "document"):  # the file's fault, said in Chinese
                if not re.search(r"[\u4e00-\u9fff]", body):
                    failures.append(f"{name}={shown}: {answer.status_code} without a reason")
            elif not _message_names(body, spec.label, "zh-CN"):
                failures.append(f"{name}={shown}: {answer.status_code} without the field named")
            if writes.kept:
                failures.append(f"{name}={shown}: {writes.kept} rows written")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(
    "key", sorted(k for k in ROUTES if k not in ELSEWHERE), ids=lambda k: f"{k[0]} {k[1]}"
)
def test_the_baseline_is_accepted_and_reads_only_listed_fields(
    app, writes, fields_read, client, ctx, key
):
    """The ordinary request works (so each refusal above is the field's), and every field the
    route reads has an entry."""
    route = ROUTES[key]
    _sign_in(client, route, ctx)
    fields_read.clear()
    answer = _send(client, route, ctx, route.baseline(ctx))
    assert answer.status_code < 400, answer.get_data(as_text=True)[:500]
    assert _flashed_errors(client) == []
    read = set().union(*fields_read) if fields_read else set()
    unlisted = read - set(route.fields) - {"csrf_token"}
    assert unlisted == set(), f"{key} reads fields without an entry"


@pytest.mark.parametrize("huge", ["9223372036854775808", "1180591620717411303424", "1" * 400])
def test_ids_past_the_database_integer_are_not_found(client, auth, huge):
    auth.login("admin")
    paths = [
        rule.rule
        for rule in client.application.url_map.iter_rules()
        if "<int:" in rule.rule and "GET" in rule.methods
    ]
    for path in paths:
        url = re.sub(r"<int:\w+>", huge, path).replace(
            "<any(display, thumb, original):variant>", "thumb"
        )
        answer = client.get(url)
        assert answer.status_code == 404, (url, answer.status_code)


def test_a_refusal_speaks_english_to_english_readers(client, ctx):
    route = ROUTES[("GET", "patrol.coverage_page")]
    _sign_in(client, route, ctx)
    answer = _send(client, route, ctx, {"day": "0001-01-01"}, language="en")
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert "Day must be between 2000-01-01 and " in body


def test_a_signed_in_user_is_never_sent_to_a_header_with_a_newline(client, auth):
    auth.login("cun")
    answer = client.get("/login?next=/%0d%0aSet-Cookie:x=1")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    assert "x=1" not in answer.headers.get("Set-Cookie", "")
