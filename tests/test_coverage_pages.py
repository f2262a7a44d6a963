"""Coverage computed from the records as the township and county see it: a patrol crossing
midnight, a relocated source (RULES.md §2)."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from extensions import db
from grid.models import Grid, Membership, Role, User
from grid.time import local_zone
from patrol.models import Visit
from sources import services as sources_services
from sources.models import Source
from tests.test_sync import Phone


def _ms(utc: datetime) -> int:
    return int((utc - datetime(1970, 1, 1)).total_seconds() * 1000)


def test_midnight_and_relocation(auth, client, db_session):
    auth.login("cun")
    user = db.session.scalar(sa.select(User).where(User.username == "cun"))
    village = db.session.scalar(
        sa.select(Grid)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
    )
    sources = list(
        db.session.scalars(
            sa.select(Source)
            .where(Source.grid_id == village.id, Source.status == "active")
            .order_by(Source.id)
        )
    )
    assert len(sources) >= 4
    zone = local_zone()
    now_utc = datetime.now(UTC).replace(tzinfo=None)
    now_local = datetime.now(zone)
    # The day after a patrol that started at 23:50: today, unless it is not yet 00:20 here.
    day = (
        now_local.date()
        if now_local.hour or now_local.minute >= 20
        else now_local.date() - timedelta(days=1)
    )
    midnight = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    late_utc = (midnight - timedelta(minutes=10)).replace(tzinfo=None)  # 23:50 the day before
    early_utc = late_utc + timedelta(minutes=20)  # 00:10 on `day`
    boot = str(uuid.uuid4())
    app_start = late_utc - timedelta(seconds=5)

    def stamp(at):  # the app was started just before 23:50 and never restarted
        return {
            "device_ms": _ms(at),
            "elapsed_ms": (at - app_start).total_seconds() * 1000,
            "boot": boot,
        }

    pid = str(uuid.uuid4())
    items = [
        {
            "client_id": pid,
            "kind": "patrol.start",
            "data": {"grid_id": village.id},
            **stamp(late_utc),
        }
    ]
    for source, at in (
        (sources[0], late_utc + timedelta(minutes=2)),  # the day before
        (sources[1], early_utc),
        (sources[2], early_utc + timedelta(minutes=1)),
    ):
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "kind": "visit",
                "data": {"patrol": pid, "source_id": source.id, "outcome": "normal"},
                **stamp(at),
            }
        )
    phone = Phone(client)
    sent = stamp(now_utc)  # sent when the network came back, now
    results = phone.send(*items, sent=sent).json["results"]
    assert [r["status"] for r in results] == [201] * 4
    days = sorted(
        v.visited_on
        for v in db.session.scalars(
            sa.select(Visit).where(Visit.client_id.in_([i["client_id"] for i in items[1:]]))
        )
    )
    assert days == [day - timedelta(days=1), day, day]  # the visit's day, not the patrol's

    # the county relocated source 3 from that day: it is no longer expected then
    sources_services.change_status(sources[3], "relocated", day)
    db.session.commit()
    expected_today = len(sources) - 1
    township = db.session.get(Grid, village.parent_id)

    auth.login("sangong")  # the township head
    page = client.get(f"/patrol/coverage?grid={township.id}&day={day.isoformat()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(
        rf'grid={village.id}[^"]*">{re.escape(village.name)}</a></td>\s*'
        r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>",
        html,
    )
    assert row, "the village row is missing"
    assert tuple(map(int, row.groups())) == (expected_today, 2, expected_today - 2)
    assert user.name in html  # who patrolled that day
    assert sources[0].name in html and sources[3].name not in html.split("Sources missed")[-1]

    # a county's page names no one: a summary, and the townships to open (issue 10)
    auth.login("changji")
    county = client.get(f"/patrol/coverage?grid={township.parent_id}&day={day.isoformat()}")
    html = county.get_data(as_text=True)
    assert county.status_code == 200 and f"grid={township.id}" in html
    assert "漏巡污染源" not in html and "巡查人员" not in html  # the county office reads Chinese
    assert sources[0].name not in html and user.name not in html
    summary = re.search(r"当日 (\d+) 人巡查 (\d+) 次，(\d+) 个污染源未巡查", html)
    assert summary and int(summary.group(1)) >= 1 and int(summary.group(2)) >= 1
    assert int(summary.group(3)) >= expected_today - 2

    yesterday = client.get(
        f"/patrol/coverage?grid={village.id}&day={(day - timedelta(days=1)).isoformat()}"
    ).get_data(as_text=True)
    row = re.search(r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", yesterday)
    assert tuple(map(int, row.groups())) == (len(sources), 1, len(sources) - 1)

    auth.login("changji")  # the county, per township, for the month
    month = client.get(f"/patrol/coverage?grid={township.parent_id}&month={day:%Y-%m}")
    assert month.status_code == 200 and township.name in month.get_data(as_text=True)
