"""Access-matrix entries for enforce's tasks pages (merged through tests/matrix_enforce.py).

Policy (enforce/draws/task_pages.py, public_pages.py):
- "My inspection tasks" is open to everyone signed in (a list of nothing for whoever is not in
  the inspector library).
- One task is seen by its inspectors (target "C": a task of a draw by 昌吉市 whose first
  inspector is linked to "cun") and by the office that publishes it: the prefecture office
  ("zhou") for every draw, a county's office or head ("changji") for its own county's; target
  "OTHER_C": a draw by 木垒 with inspectors without accounts, seen by "zhou" only.
- Entering a result: the empty post is refused for the missing fields (400) for those who see
  the task (an office is told that only an inspector enters it), 403 for the others.
- The publication list is the offices'; publishing: the office of the draw's county or the
  prefecture (the empty post of an open task is refused with a message: 303), 403 otherwise.
- The public page of the results is open to everyone, signed in or not.
"""

from itertools import count

from enforce.draws.models import Draw, Inspector, Task, task_inspector
from extensions import db
from grid.time import local_today
from sources.models import Source

OFFICES = {"zhou", "changji"}
_serial = count(1)


def _inspector(user_id, grid_id) -> Inspector:
    if user_id is not None:
        found = db.session.scalar(db.select(Inspector).where(Inspector.user_id == user_id))
        if found is not None:
            return found
    n = next(_serial)
    row = Inspector(
        name=f"矩阵检查员{n}",
        certificate_no=f"M{n:06d}",
        unit="矩阵执法大队",
        grid_id=grid_id,
        user_id=user_id,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _task(w, target) -> int:
    """An open task of a draw by the target county, on one of its sources."""
    county = w.grids[target]
    source = db.session.scalar(
        db.select(Source).where(Source.county_id == county.id).order_by(Source.id).limit(1)
    )
    draw = Draw(
        grid_id=county.id,
        month=local_today().replace(day=1),
        seed=1,
        asked="{}",
        snapshot="{}",
        snapshot_sha256="0" * 64,
    )
    db.session.add(draw)
    db.session.flush()
    task = Task(draw_id=draw.id, source_id=source.id, category="general")
    db.session.add(task)
    db.session.flush()
    first = w.users["cun"].id if target == "C" else None
    team = [_inspector(first, county.id), _inspector(None, county.id)]
    for position, inspector in enumerate(team, start=1):
        db.session.execute(
            task_inspector.insert().values(
                task_id=task.id, inspector_id=inspector.id, position=position
            )
        )
    db.session.flush()
    return task.id


def _sees_task(actor, target) -> bool:
    return actor == "zhou" or (target == "C" and actor in ("cun", "changji"))


def _task_page(actor, target):
    if actor == "anon":
        return 302
    return 200 if _sees_task(actor, target) else 403


def _complete(actor, target):
    if actor == "anon":
        return 401
    return 400 if _sees_task(actor, target) else 403


def _publish(actor, target):
    if actor == "anon":
        return 401
    return 303 if actor == "zhou" or (target == "C" and actor == "changji") else 403


def _office_page(actor, _target):
    if actor == "anon":
        return 302
    return 200 if actor in OFFICES else 403


def task_routes(Route, sees):
    return {
        "enforce.tasks": Route(
            "GET", lambda w, t: "/enforce/tasks", [None], lambda a, _t: 302 if a == "anon" else 200
        ),
        "enforce.task": Route(
            "GET", lambda w, t: f"/enforce/tasks/{_task(w, t)}", ["C", "OTHER_C"], _task_page
        ),
        "enforce.task_complete": Route(
            "POST",
            lambda w, t: f"/enforce/tasks/{_task(w, t)}/complete",
            ["C", "OTHER_C"],
            _complete,
        ),
        "enforce.publication_list": Route(
            "GET", lambda w, t: "/enforce/tasks/publication", [None], _office_page
        ),
        "enforce.task_publish": Route(
            "POST",
            lambda w, t: f"/enforce/tasks/{_task(w, t)}/publish",
            ["C", "OTHER_C"],
            _publish,
        ),
        "enforce.public_inspections": Route(
            "GET", lambda w, t: "/enforce/public/inspections", [None], lambda a, _t: 200
        ),
    }
