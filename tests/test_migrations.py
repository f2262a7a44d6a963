"""The migrations build exactly the models' schema on both backends, and run both ways."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from extensions import alembic_include_object, db
from patrol.models import visit_photo
from problems.escalation import State
from tests import factories
from tests.conftest import make_app


def _include(obj, name, obj_type, reflected, compare_to):
    if obj_type == "table" and name == "alembic_version":
        return False
    return alembic_include_object(obj, name, obj_type, reflected, compare_to)


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_downgrade_to_empty_and_upgrade_again(database):
    application = make_app(database.clone())
    with application.app_context():
        downgrade(revision="base")
        names = set(sa.inspect(db.engine).get_table_names())
        assert not names & {"grid", "user_account", "membership"}
        upgrade()
        assert {"grid", "user_account", "membership"} <= set(
            sa.inspect(db.engine).get_table_names()
        )
        db.engine.dispose()


def _links():
    visits = set(db.session.execute(sa.text("SELECT visit_id, photo_id FROM visit_photo")))
    problems = set(
        db.session.execute(sa.text("SELECT problem_id, photo_id, event_id FROM problem_photo"))
    )
    return {tuple(r) for r in visits}, {tuple(r) for r in problems}


def test_photo_links_survive_going_back_to_the_columns_and_forward_again(database):
    """0004 moved photo.visit_id / problem_id / event_id into link tables: going down and up
    again keeps every link (a visit's photo and a problem step's photo made here, and whatever
    the database held already)."""
    application = make_app(database.clone())
    with application.app_context():
        world = factories.make_world()
        patrol = factories.make_patrol(world, [factories.make_source(world)])
        visit = factories.visits_of(patrol)[0]
        photo_id = factories.make_photo(world, visit_photo, visit).id
        problem_id = factories.make_problem(world, State.RECHECKING).id  # an after-photo
        db.session.commit()
        visits, problems = _links()
        # End every read, and touch no record afterwards (an expired one would be read again):
        # the migrations run on connections of their own and wait for this one's locks.
        db.session.rollback()
        assert (visit, photo_id) in visits
        assert any(p == problem_id and event for p, _photo, event in problems)
        downgrade(revision="0003_workflow")
        columns = db.session.execute(
            sa.text("SELECT id, visit_id, problem_id, event_id FROM photo")
        ).all()
        db.session.rollback()
        assert {(v, pid) for pid, v, _p, _e in columns if v} == visits
        assert {(p, pid, e) for pid, _v, p, e in columns if p} == problems
        assert all(v or p for _pid, v, p, _e in columns)  # the rule came back too
        upgrade()
        assert _links() == (visits, problems)
        db.session.remove()
        db.engine.dispose()
