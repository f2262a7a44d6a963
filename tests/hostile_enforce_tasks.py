"""tests/test_hostile.py entries for enforce's task pages (via tests/hostile_enforce.py).

The world's village supervisor is an inspector of the library (`records`): an open task of a
draw by the world's county this month, which they complete (the baseline: a phrase, a record,
today, one photo), and a done task that the county's office publishes."""

from enforce.draws import publication
from enforce.draws.models import Draw, Inspector, Task, task_inspector
from extensions import db
from grid.time import local_today, utcnow, work_calendar
from tests import factories

TASK_FIELDS = {
    "outcome": ("choice", "Result"),
    "record": ("long_text", "Check record"),
    "done_on": ("day", "Day of the inspection"),
    "photos": ("file", "Photos"),
    "lat": ("number", "Latitude"),
    "lon": ("number", "Longitude"),
    "accuracy": ("radius", "Accuracy"),
}


def _complete_baseline(ctx):
    lon, lat = ctx.world.inside()
    return {
        "outcome": "2",
        "record": "现场检查发现废气收集设施破损，已责令改正。\n第二行",
        "done_on": local_today().isoformat(),
        "photos": (factories.jpeg(77), "inspection.jpg"),
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "accuracy": "12",
    }


def routes(Route, F) -> dict:
    page = {"page": F("int", "Page", "query")}
    return {
        ("GET", "enforce.tasks"): Route(
            "GET", "supervisor", lambda c: "/enforce/tasks", lambda c: {"page": "1"}, page
        ),
        ("GET", "enforce.task"): Route(
            "GET", "supervisor", lambda c: f"/enforce/tasks/{c.ids['inspection_open']}"
        ),
        ("POST", "enforce.task_complete"): Route(
            "POST",
            "supervisor",
            lambda c: f"/enforce/tasks/{c.ids['inspection_open']}/complete",
            _complete_baseline,
            {name: F(kind, label) for name, (kind, label) in TASK_FIELDS.items()},
        ),
        ("GET", "enforce.publication_list"): Route(
            "GET",
            "county_office",
            lambda c: "/enforce/tasks/publication",
            lambda c: {"show": "all", "page": "1"},
            {"show": F("choice", "Show", "query"), **page},
        ),
        ("POST", "enforce.task_publish"): Route(
            "POST",
            "county_office",
            lambda c: f"/enforce/tasks/{c.ids['inspection_done']}/publish",
            lambda c: {"back": "task"},
            {"back": F("choice", "Back")},
        ),
        ("GET", "enforce.public_inspections"): Route(
            "GET",
            None,
            lambda c: "/enforce/public/inspections",
            lambda c: {"month": local_today().strftime("%Y-%m"), "page": "1"},
            {"month": F("month", "Month", "query"), **page},
        ),
    }


def records(world) -> dict:
    """An open task of the world's supervisor (an inspector) and a done one to publish."""
    inspectors = [
        Inspector(
            name=name,
            certificate_no=f"H{world.county.id:06d}{n}",
            unit="测试执法大队",
            grid_id=world.county.id,
            user_id=user_id,
        )
        for n, (name, user_id) in enumerate([("敌测甲", world.supervisor.id), ("敌测乙", None)])
    ]
    db.session.add_all(inspectors)
    draw = Draw(
        grid_id=world.county.id,
        month=local_today().replace(day=1),
        seed=7,
        asked="{}",
        snapshot="{}",
        snapshot_sha256="0" * 64,
    )
    db.session.add(draw)
    db.session.flush()
    made = {}
    for key in ("inspection_open", "inspection_done"):
        source = factories.make_source(world, name=f"敌测企业{key}")
        task = Task(draw_id=draw.id, source_id=source.id, category="key")
        db.session.add(task)
        db.session.flush()
        for position, inspector in enumerate(inspectors, start=1):
            db.session.execute(
                task_inspector.insert().values(
                    task_id=task.id, inspector_id=inspector.id, position=position
                )
            )
        made[key] = task
    done = made["inspection_done"]
    done.status, done.outcome, done.record = "done", 1, "未发现问题"
    done.done_on, done.completed_at = local_today(), utcnow()
    done.completed_by_id = world.supervisor.id
    done.publish_due = publication.publish_due(done.done_on, done.category, work_calendar())
    db.session.flush()
    return {key: task.id for key, task in made.items()}
