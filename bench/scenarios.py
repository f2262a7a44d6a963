"""What a request or an action costs in CPU instructions, counted by valgrind's callgrind: the
same number on every run of the same code and data, whatever else the machine is doing, so the
code before a change and after it compare to within a percent where wall-clock time on this
machine varies by ten.

Run by bench/compare.py, once per checkout (this one, and the code before a change), as

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=DIR/cg.out \\
        python bench/scenarios.py DATABASE_URL

in that checkout, on a copy of its own demo database. Each scenario is warmed up, then counted
alone (instrumentation on, the counter zeroed, dumped with the scenario's name). It uses only
what both layouts of the code offer: URLs through the test client, and for the workflow and the
audit the functions of either layout.
"""

import os
import subprocess
import sys
import uuid
from datetime import datetime

# (key, what, how many times it is counted): each one a request, two acts or an audit.
SCENARIOS = (
    ("home", "the home page of a village supervisor", 100),
    ("list", "the problems list of the prefecture office", 40),
    ("problem", "a problem's page, as the county office", 40),
    ("dossier", "a source's dossier (with its visits and problems), as the county office", 40),
    ("inbox", "the inbox page of the county office", 40),
    ("sync", "a sync of a patrol's start and 5 visits", 20),
    ("acts", "two acts on a new problem: escalate, approve (each committed)", 20),
    ("audit", "the audit of every event chain of the demo", 50),
)
TIMES = {key: times for key, _what, times in SCENARIOS}


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def _counted(key: str, once) -> None:
    for _ in range(3):
        once()  # warm-up: caches, compiled statements, templates
    _control("-z")
    _control("-i", "on")
    for _ in range(TIMES[key]):
        once()
    _control("-i", "off")
    _control("-d", key)


def main(database_url: str) -> None:
    import sqlalchemy as sa

    from app import create_app
    from extensions import db
    from grid.models import User

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    try:  # the layout after the packages were split, or the one before
        from evidence.services import photo_store
        from grid.audit import verify as verify_chains
        from problems.escalation import Capacity, State
        from problems.models import Problem
        from problems.services import Act, act, start

        def audit():
            verify_chains("problem")
    except ImportError:
        from patrol.escalation import Capacity, State
        from patrol.problems import Act, act, start, verify_chain

        from patrol.models import Problem
        from patrol.services import photo_store

        def audit():
            verify_chain()

    def one(sql, **params):
        return db.session.execute(sa.text(sql), params).scalar()

    with app.app_context():
        cun = one("SELECT id FROM user_account WHERE username = 'cun'")
        village = one(
            "SELECT grid_id FROM membership WHERE user_id = :u AND role = 'supervisor'", u=cun
        )
        problem = one("SELECT min(id) FROM problem WHERE grid_id = :g", g=village)
        source = one(
            "SELECT min(id) FROM source WHERE grid_id = :g AND status = 'active'", g=village
        )
        db.session.remove()

    def client_of(login):
        # Through the form (CSRF is off here): the session must be one the server knows.
        client = app.test_client()
        response = client.post("/login", data={"login": login, "password": "demo1234"})
        if response.status_code != 302:
            raise RuntimeError(f"signing in as {login}: {response.status_code}")
        return client

    def get(client, path):
        def once():
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")

        return once

    _counted("home", get(client_of("cun"), "/"))
    _counted("list", get(client_of("zhou"), "/problems/"))
    changji = client_of("changji")
    _counted("problem", get(changji, f"/patrol/problems/{problem}"))
    _counted("dossier", get(changji, f"/sources/{source}"))
    _counted("inbox", get(changji, "/problems/inbox"))

    phone = client_of("cun")

    def sync():
        boot = str(uuid.uuid4())
        stamp = {"device_ms": int(datetime.now().timestamp() * 1000), "elapsed_ms": 5.0}
        stamp["boot"] = boot
        patrol = str(uuid.uuid4())
        items = [
            {"client_id": patrol, "kind": "patrol.start", "data": {"grid_id": village}, **stamp}
        ]
        items += [
            {
                "client_id": str(uuid.uuid4()),
                "kind": "visit",
                "data": {"patrol": patrol, "source_id": source, "outcome": "normal"},
                **stamp,
            }
            for _ in range(5)
        ]
        response = phone.post("/sync/items", json={"sent": stamp, "items": items})
        statuses = [r["status"] for r in response.get_json()["results"]]
        if statuses != [201] * len(items):
            raise RuntimeError(f"sync answered {statuses}")

    _counted("sync", sync)

    with app.app_context():
        users = {
            name: db.session.scalar(
                sa.text("SELECT id FROM user_account WHERE username = :u"), {"u": name}
            )
            for name in ("cun", "sangong")
        }
        cun_user, sangong = (db.session.get(User, users[n]) for n in ("cun", "sangong"))
        fresh = []
        for _ in range(TIMES["acts"] + 3):
            new = Problem(
                origin="patrol",
                reporter_id=cun_user.id,
                grid_id=village,
                found_at=datetime.utcnow(),
                received_at=datetime.utcnow(),
                location="SRID=4326;POINT(87.3 44.0)",
                category="dust",
                severity="moderate",
                description="基准测试",
            )
            db.session.add(new)
            db.session.flush()
            start(new, State.VILLAGE, cun_user, Capacity.VILLAGE)
            fresh.append(new.id)
        db.session.commit()
        store = photo_store()
        waiting = iter(fresh)

        def two_acts():
            pid = next(waiting)
            for who, event in ((cun_user, "escalate"), (sangong, "approve")):
                item = db.session.get(Problem, pid)
                act(item, who, Act(event=event, version=item.version), store)
                db.session.commit()

        _counted("acts", two_acts)
        _counted("audit", audit)
        db.session.remove()


if __name__ == "__main__":
    main(sys.argv[1])
