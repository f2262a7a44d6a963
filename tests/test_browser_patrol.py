"""A day's patrol in the browser, offline in the middle (issue 3): every record reaches the
server exactly once, with its photos, flags and the route line, also when the connection is
cut mid-upload and retried."""

import io
import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from evidence.models import Photo
from extensions import db
from patrol.models import Patrol, Visit
from problems.models import Problem, problem_photo
from sync.models import SyncReceipt

pytestmark = pytest.mark.browser


def _dms(value):
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return (
        IFDRational(d, 1),
        IFDRational(m, 1),
        IFDRational(round((value - d - m / 60) * 3600 * 10000), 10000),
    )


def photo_file(name, lon, lat, shade):
    """A JPEG as a phone camera makes it: EXIF GPS and the local time it was taken."""
    image = Image.new("RGB", (1600, 1200), (shade, 120, 255 - shade))
    for x in range(0, 1600, 50):
        image.paste(((x * 7 + shade) % 255, 60, 90), (x, 0, x + 25, 600))
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", _dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", _dms(lon)
    local_now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = local_now.strftime(
        "%Y:%m:%d %H:%M:%S"
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


def counts(live_app):
    with live_app.app_context():
        result = {
            m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Patrol, Visit, Problem, Photo, SyncReceipt)
        }
        db.session.remove()
        return result


def eventually(page, check, timeout_s=20):
    """Wait until the server's database shows what the phone sent (the queue drains async)."""
    for _ in range(int(timeout_s / 0.25)):
        if check():
            return
        page.wait_for_timeout(250)
    raise AssertionError("the server never got there")


def latest_patrol_ended(live_app):
    with live_app.app_context():
        patrol = db.session.scalar(sa.select(Patrol).order_by(Patrol.id.desc()).limit(1))
        ended = patrol is not None and patrol.ended_at is not None
        db.session.remove()
        return ended


def waiting(page):
    return int(page.inner_text("#queue-count"))


def wait_until(page, script, arg=None, timeout_s=20):
    """Until `script` (which may be async: Playwright's wait_for_function does not await a
    promise, it takes one as true) gives something true in the page."""
    for _ in range(int(timeout_s / 0.1)):
        if page.evaluate(script, arg):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page never got there: {script}")


def wait_synced(page, timeout_s=20):
    """Until the phone's queue is empty and the bar says so (the bar alone may still show the
    count from before the last record was queued)."""
    wait_until(
        page,
        """async () => (await GridQueue.counts()).waiting === 0 &&
             document.getElementById('queue-count').textContent === '0'""",
        timeout_s=timeout_s,
    )


def start_patrol(page):
    """Start a patrol and wait until its start has been queued and sent."""
    page.click("#start-patrol")
    page.wait_for_selector("#end-patrol", state="visible")
    wait_synced(page)


def open_patrol(page, live_server):
    page.goto(live_server + "/patrol/")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.wait_for_function("() => document.querySelectorAll('#source-list li').length >= 3")
    page.wait_for_function("() => document.getElementById('position').textContent.length > 0")


def move(context, lon, lat):
    context.set_geolocation({"latitude": lat, "longitude": lon})


def visit_source(page, index, files=(), note=""):
    row = page.locator("#source-list li").nth(index)
    row.locator("summary").click()
    if note:
        row.locator("input[name=note]").fill(note)
    if files:
        row.locator("input[name=photos]").set_input_files(list(files))
    name = row.locator(".source-name").inner_text()
    row.locator("button[value=normal]").click()
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('#source-list li')].some(li => "
        "li.querySelector('.source-name').textContent === n && "
        "!li.querySelector('.source-visited').hidden)",
        arg=name,
    )
    return name


def report_problem(page, index, files):
    row = page.locator("#source-list li").nth(index)
    row.locator("summary").click()
    row.locator(".problem-button").click()
    dialog = page.locator("#problem-dialog")
    dialog.locator("select[name=category]").select_option("garbage_pile")
    dialog.locator("select[name=severity]").select_option("serious")
    dialog.locator("textarea[name=description]").fill("村口垃圾堆放，未清运")
    dialog.locator("input[name=stopped_on_spot]").check()
    dialog.locator("input[name=photos]").set_input_files(list(files))
    dialog.locator("button[value=save]").click()
    page.wait_for_function("() => !document.getElementById('problem-dialog').open")


def test_patrol_offline_and_synced_once(
    phone, live_server, live_app, village, artifacts_dir, database
):
    context, page = phone
    _grid_id, lon, lat = village
    before = counts(live_app)
    open_patrol(page, live_server)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    start_patrol(page)
    for step in range(1, 4):  # walk east 32 m a second: a route point each step
        move(context, lon + step * 0.0004, lat)
        page.wait_for_timeout(1000)
    visit_source(page, 0, [photo_file("a.jpg", lon, lat, 10)], note="正常")
    report_problem(page, 1, [photo_file("b.jpg", lon, lat, 80), photo_file("c.jpg", lon, lat, 160)])
    wait_synced(page)

    context.set_offline(True)
    visit_source(page, 2, [photo_file("d.jpg", lon, lat, 230)])
    page.wait_for_function("() => Number(document.getElementById('queue-count').textContent) >= 2")
    response = page.reload()
    assert response.from_service_worker  # the page works offline
    page.wait_for_function("() => Number(document.getElementById('queue-count').textContent) >= 2")
    page.screenshot(path=os.path.join(artifacts_dir, f"patrol-offline-{database.backend}.png"))
    context.set_offline(False)
    page.click("#sync-now")
    wait_synced(page)
    move(context, lon + 0.0016, lat)
    page.wait_for_timeout(1000)
    page.click("#end-patrol")
    page.wait_for_selector("#start-patrol", state="visible")
    eventually(page, lambda: latest_patrol_ended(live_app))
    wait_synced(page)

    after = counts(live_app)
    assert after["Patrol"] - before["Patrol"] == 1
    assert after["Visit"] - before["Visit"] == 3  # two normal, one with the problem
    assert after["Problem"] - before["Problem"] == 1
    assert after["Photo"] - before["Photo"] == 4
    with live_app.app_context():
        patrol = db.session.scalar(sa.select(Patrol).order_by(Patrol.id.desc()).limit(1))
        assert patrol.ended_at is not None and patrol.route is not None
        assert patrol.route_length_m > 90  # at least three 32 m steps
        problem = db.session.scalar(sa.select(Problem).where(Problem.patrol_id == patrol.id))
        assert problem.category == "garbage_pile" and problem.stopped_on_spot
        photos = list(
            db.session.scalars(
                sa.select(Photo).join(problem_photo).where(problem_photo.c.problem_id == problem.id)
            )
        )
        assert len(photos) == 2
        for photo in photos:
            assert photo.reported_sha256 and photo.reported_sha256 != photo.sha256  # shrunk
            assert photo.exif_lat == pytest.approx(lat, abs=1e-4)  # read on the phone
            assert isinstance(photo.flags, list)
            assert "no_location" not in [f["code"] for f in photo.flags]
        db.session.remove()
    # the reviewer's view shows them
    page.goto(live_server + f"/patrol/{patrol.id}")
    assert page.locator(".photos img").count() == 4


def test_cut_mid_upload_then_retried(phone, live_server, live_app, village):
    context, page = phone
    _grid_id, lon, lat = village
    cuts = {"items": 0, "photos": 0}

    def cut_once(kind):
        def handler(route):
            if cuts[kind] == 0:
                cuts[kind] += 1
                route.fetch()  # the server receives and records it...
                route.abort("connectionreset")  # ...but the phone never sees the answer
            else:
                route.continue_()

        return handler

    open_patrol(page, live_server)
    before = counts(live_app)
    page.route("**/sync/items", cut_once("items"))
    page.route("**/sync/photos", cut_once("photos"))
    page.click("#start-patrol")
    visit_source(page, 0, [photo_file("e.jpg", lon, lat, 40), photo_file("f.jpg", lon, lat, 90)])
    page.wait_for_function("() => Number(document.getElementById('queue-count').textContent) > 0")
    for _ in range(6):  # retry until everything went through
        if waiting(page) == 0:
            break
        page.click("#sync-now")
        page.wait_for_timeout(700)
    wait_synced(page)
    page.click("#end-patrol")
    page.wait_for_selector("#start-patrol", state="visible")
    eventually(page, lambda: latest_patrol_ended(live_app))
    wait_synced(page)
    assert cuts == {"items": 1, "photos": 1}
    after = counts(live_app)
    assert after["Patrol"] - before["Patrol"] == 1
    assert after["Visit"] - before["Visit"] == 1
    assert after["Photo"] - before["Photo"] == 2
    assert not page.locator("#refused-list li").count()


def test_a_poisoned_item_between_good_ones_is_refused_and_the_queue_goes_on(
    phone, live_server, live_app, village
):
    """Issue 9: a queue holding [good visit, poisoned visit, good visit] syncs the good ones,
    shows the poisoned one as refused with its reason, and empties."""
    context, page = phone
    _grid_id, lon, lat = village
    open_patrol(page, live_server)
    start_patrol(page)
    before = counts(live_app)
    context.set_offline(True)
    visit_source(page, 0)
    # What a broken phone might hold: a visit stamped by a clock gone mad.
    page.evaluate(
        """async (gridId) => {
             const patrol = await GridQueue.get('patrol:' + gridId);
             const row = document.querySelectorAll('#source-list li')[1];
             const realNow = Date.now;
             // A clock gone mad (the issue's batch answered 500), for this item only: the stamp
             // is read as add() is called, and the clock is back before anything else runs
             // (a route point recorded meanwhile would be poisoned too).
             Date.now = () => 1e300;
             let added;
             try {
               added = GridQueue.add('visit', {patrol: patrol.client_id,
                 source_id: Number(row.dataset.source), outcome: 'normal'});
             } finally { Date.now = realNow; }
             await added;
           }""",
        _grid_id,
    )
    visit_source(page, 2)
    page.wait_for_function("() => Number(document.getElementById('queue-count').textContent) >= 3")
    context.set_offline(False)
    page.click("#sync-now")
    wait_synced(page)
    refused = page.locator("#refused-list li")
    refused.first.wait_for()
    assert refused.count() == 1
    assert "device_ms" in refused.first.inner_text()  # the reason, naming the field
    assert refused.first.inner_text().startswith("巡查记录: ")  # what was refused, in words
    after = counts(live_app)
    assert after["Visit"] - before["Visit"] == 2
