"""How a domain plugs in without being imported (grid/registry.py and the registries of
evidence, sync and notify): what each domain registers is what the shell, the sync API, the
audit and the photo pages use. Built with tests/factories.py, on both databases."""

import re
import time
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from desk.queries import home_counts
from evidence.registry import PHOTO_OWNERS
from extensions import db
from grid import audit
from grid.access import load_identity
from grid.chain import Break, Link, first_break, link_hash
from grid.registry import (
    CHAINS,
    HOME_COUNTS,
    NAVIGATION,
    POST_LINKS,
    NavEntry,
    Registry,
    current_section,
)
from grid.time import local_today
from notify.registry import SUBJECTS, subject_url
from patrol.models import visit_photo
from patrol.registry import PATROL_SECTIONS
from problems import queries
from problems.escalation import State
from problems.models import ProblemEvent
from sources.registry import DOSSIER_SECTIONS
from sync.registry import ITEM_KINDS, PHOTO_PARENTS
from tests.conftest import csrf_token, sign_in
from tests.factories import person, visits_of

# --- the registry itself -------------------------------------------------------------------------


def test_entries_belong_to_their_app_and_a_key_is_taken_once():
    registry: Registry[NavEntry] = Registry("test_only")
    one, two = Flask("one"), Flask("two")
    registry.add(one, "b", NavEntry("B", "x.b", order=20))
    registry.add(one, "a", NavEntry("A", "x.a", order=20))
    registry.add(one, "c", NavEntry("C", "x.c", order=10))
    assert list(registry.entries(one)) == ["b", "a", "c"]  # as registered
    assert registry.entries(two) == {}
    with one.app_context():
        assert [e.label for e in registry.ordered()] == ["C", "A", "B"]  # by order, then key
    with pytest.raises(RuntimeError, match="registered twice"):
        registry.add(one, "a", NavEntry("A again", "x.a"))


def test_every_domain_registered_what_it_offers(app):
    """The wiring as the docs list it (docs/architecture.md, "How a domain plugs in")."""
    with app.app_context():
        assert list(CHAINS.entries()) == ["problem", "assessment"]
        assert set(ITEM_KINDS.entries()) == {
            "patrol.start",
            "patrol.route",
            "visit",
            "patrol.end",
            "problem",
            "alert.onsite",
            "alert.disposal",
        }
        assert set(PHOTO_PARENTS.entries()) == {"visit", "problem", "alert_feedback"}
        assert set(PHOTO_OWNERS.entries()) == {
            "visit",
            "problem",
            "alert_feedback",
            "enforce_disposal",
            "enforce_task",
        }
        assert set(SUBJECTS.entries()) == {"problem", "alert", "inspection"}
        assert [e.endpoint for e in HOME_COUNTS.ordered()] == [
            "problems.inbox",
            "enforce.tasks",
            "notify.index",
        ]
        assert [e.endpoint for e in NAVIGATION.ordered()] == [
            "desk.home",
            "grid.index",
            "patrol.index",
            "problems.index",
            "alerts.index",
            "assess.index",
            "problems.findings_index",
            "enforce.index",
            "sources.index",
            "grid.map_page",
            "grid.people_index",
            "grid.disclosure_index",
        ]
        assert set(DOSSIER_SECTIONS.entries()) == {"visits", "problems"}
        assert set(PATROL_SECTIONS.entries()) == {"problems"}
        assert {e.endpoint for e in POST_LINKS.ordered()} == {
            "patrol.index",
            "grid.map_page",
            "grid.staffing",
            "assess.people",
        }


@pytest.mark.parametrize(
    ("endpoint", "section"),
    [
        ("desk.home", "home"),
        ("grid.show", "grids"),
        ("grid.map_page", "map"),
        ("grid.people_show", "people"),
        ("grid.disclosure", None),
        ("problems.show", "problems"),
        ("problems.findings_show", "findings"),  # the longer prefix wins over "problems."
        ("patrol.coverage_page", "patrol"),
        ("sources.show", "sources"),
        ("evidence.photo", None),
        (None, None),
    ],
)
def test_a_page_belongs_to_the_section_of_its_longest_prefix(app, endpoint, section):
    with app.app_context():
        assert current_section(endpoint) == section


# --- the home page and the navigation -----------------------------------------------------------


def test_home_counts_come_from_every_domain_in_one_statement(db_session, make_world, make_problem):
    world = make_world()
    make_problem(world, State.TOWNSHIP)
    make_problem(world, State.TOWNSHIP)
    make_problem(world, State.VILLAGE)
    posts = load_identity(world.township_head.id, local_today())[1].posts
    counts = {entry.endpoint: n for entry, n in home_counts(world.township_head.id, posts)}
    assert counts == {"problems.inbox": 2, "notify.index": 2}  # told of each escalation
    posts = load_identity(world.supervisor.id, local_today())[1].posts
    counts = {entry.endpoint: n for entry, n in home_counts(world.supervisor.id, posts)}
    assert counts["problems.inbox"] == 1  # the one still at the village
    assert counts["problems.inbox"] == len(queries.inbox(world.supervisor.id))


def test_the_home_page_shows_the_counts_and_each_posts_links(
    client, db_session, make_world, make_problem
):
    world = make_world()
    make_problem(world, State.TOWNSHIP)
    sign_in(client, world.township_head)
    html = client.get("/").get_data(as_text=True)
    assert re.search(
        r'href="/problems/inbox" class="button primary">[^<]+<strong class="count">1<', html
    )
    assert 'href="/notifications"' in html
    assert f'href="/grids/{world.township.id}/staffing"' in html  # a township's card
    assert "/patrol/?grid=" not in html  # not a supervisor
    sign_in(client, world.supervisor)
    html = client.get("/").get_data(as_text=True)
    assert f'href="/patrol/?grid={world.village.id}" class="button primary"' in html
    assert f'href="/grids/{world.village.id}/staffing"' not in html  # a village's card


def test_the_navigation_shows_each_entry_to_its_audience(client, db_session, make_world):
    world = make_world()
    sign_in(client, world.county_office)
    county = client.get(f"/grids/{world.county.id}").get_data(as_text=True)
    sign_in(client, world.supervisor)
    village = client.get(f"/grids/{world.village.id}").get_data(as_text=True)
    for html in (county, village):
        assert 'href="/grids/" aria-current="page"' in html  # this page's section
        assert 'href="/sources/"' in html and 'href="/public/"' in html
    assert 'href="/findings/"' in county  # county offices and above
    assert 'href="/findings/"' not in village
    assert 'href="/people/"' not in county  # administrators only


# --- parts of a page filled by a higher domain ---------------------------------------------------


def test_a_sources_dossier_shows_its_visits_and_problems(
    client, db_session, make_world, make_source, make_patrol, make_problem
):
    world = make_world()
    source = make_source(world)
    patrol = make_patrol(world, [source])
    problem = make_problem(world, State.COUNTY, source_id=source.id)
    sign_in(client, world.county_office)
    html = client.get(f"/sources/{source.id}").get_data(as_text=True)
    assert f'href="/patrol/{patrol.id}"' in html  # patrol's section
    assert f'href="/patrol/problems/{problem.id}"' in html  # the problems' section


def test_a_patrols_page_shows_its_photos_and_the_problems_found(
    client, db_session, make_world, make_source, make_patrol, make_photo, make_problem
):
    world = make_world()
    patrol = make_patrol(world, [make_source(world)])
    at_visit = make_photo(world, visit_photo, visits_of(patrol)[0])
    problem = make_problem(world, State.RESOLVED, patrol_id=patrol.id)  # with an after-photo
    ((after, step),) = queries.problem_photos(problem.id)
    assert step is not None  # it came with the step that resolved the problem
    sign_in(client, world.supervisor)
    html = client.get(f"/patrol/{patrol.id}").get_data(as_text=True)
    assert f"/patrol/photos/{at_visit.id}/thumb" in html  # patrol's own photos
    assert f'href="/patrol/problems/{problem.id}"' in html  # the problems' section
    assert f"/patrol/photos/{after.id}/thumb" in html


# --- photos: who may see one, through the record it belongs to ----------------------------------


def test_a_problems_photo_is_seen_by_its_assignee_outside_the_grid(
    client, db_session, make_world, make_problem
):
    world = make_world()
    officer = person("officer")  # a department's officer, with no post in any grid
    problem = make_problem(world, State.RECHECKING)
    problem.assignee_user_id = officer.id
    db.session.flush()
    photo = next(p for p, _step in queries.problem_photos(problem.id))
    sign_in(client, officer)
    assert client.get(f"/patrol/photos/{photo.id}/thumb").status_code == 200
    stranger = make_world()
    sign_in(client, stranger.supervisor)
    assert client.get(f"/patrol/photos/{photo.id}/thumb").status_code == 403
    assert client.get("/patrol/photos/999999999/thumb").status_code == 404


def test_a_link_table_holds_a_photo_once(
    db_session, make_world, make_source, make_patrol, make_photo
):
    world = make_world()
    first, second = visits_of(make_patrol(world, [make_source(world), make_source(world)]))
    photo = make_photo(world, visit_photo, first)
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(visit_photo.insert().values(visit_id=second, photo_id=photo.id))
    assert db.session.scalars(sa.select(visit_photo.c.visit_id)).all().count(first) == 1


# --- notifications link through their subject's kind ---------------------------------------------


def test_a_notification_links_to_its_subject_by_kind(app):
    with app.test_request_context():
        assert subject_url("problem:42") == "/patrol/problems/42"
        assert subject_url("alert:42") == "/alerts/42"  # registered by alerts/
        assert subject_url("problem:") is None and subject_url("nonsense") is None


# --- chains: the pure links, and every registered chain verified ---------------------------------


def _links(n):
    links, prev = [], None
    for seq in range(1, n + 1):
        record = {"owner": 7, "seq": seq, "what": f"step {seq}", "prev": prev}
        link = Link(seq, prev, link_hash(record), record)
        links.append(link)
        prev = link.hash
    return links, prev


def test_a_chain_holds_and_shows_where_it_breaks():
    links, head = _links(4)
    assert first_break(links, head) is None
    assert first_break([], None) is None
    third = links[2]
    edited = third._replace(record={**third.record, "what": "forged"})
    assert first_break([*links[:2], edited, links[3]], head) == (3, "its content was changed")
    rehashed = edited._replace(hash=link_hash(edited.record))  # consistent in itself
    assert first_break([*links[:2], rehashed, links[3]], head) == Break(
        4, "it does not follow the event before"
    )
    assert first_break([links[0], *links[2:]], head) == Break(2, "an event is missing")
    assert first_break(links[:3], head) == Break(
        None, "the last event is missing or the head was changed"
    )
    # the hash covers the previous link's hash too: the same content after another link differs
    assert link_hash({**links[1].record, "prev": "0" * 64}) != links[1].hash


def test_audit_verifies_every_registered_chain(db_session, make_world, make_problem, runner):
    world = make_world()
    closed = make_problem(world, State.CLOSED)
    untouched = make_problem(world, State.COUNTY)
    found, checked = audit.verify("problem", [closed.id, untouched.id])
    assert found is None and checked == 6 + 3  # report + 5 steps; report + 2 steps
    row = db.session.scalar(
        sa.select(ProblemEvent).where(ProblemEvent.problem_id == closed.id, ProblemEvent.seq == 4)
    )
    row.comment = "改过"
    db.session.flush()
    found, _checked = audit.verify("problem", [closed.id, untouched.id])
    assert (found.chain, found.owner_id, found.seq) == ("problem", closed.id, 4)
    result = runner.invoke(args=["audit", "verify", "--chain", "problem", "--id", str(closed.id)])
    assert result.exit_code == 1 and f"BROKEN: problem {closed.id}, event #4" in result.output
    result = runner.invoke(args=["audit", "verify", "--chain", "nothing"])
    assert result.exit_code == 2 and "no chain 'nothing'" in result.output


# --- the sync API asks the registry which kinds exist -------------------------------------------


def test_an_item_of_a_kind_nobody_registered_is_refused_alone(client, db_session, make_world):
    world = make_world()
    sign_in(client, world.supervisor)
    stamp = {"device_ms": int(time.time() * 1000), "elapsed_ms": 1.0, "boot": str(uuid.uuid4())}
    unknown = {"kind": "alert.feedback", "data": {}}
    start = {"kind": "patrol.start", "data": {"grid_id": world.village.id}}
    body = {
        "sent": stamp,
        "items": [{"client_id": str(uuid.uuid4()), **i, **stamp} for i in (unknown, start)],
    }
    response = client.post("/sync/items", json=body, headers={"X-CSRFToken": csrf_token(client)})
    first, second = response.get_json()["results"]
    assert first["status"] == 400 and first["error"] == "malformed"
    assert second["status"] == 201
