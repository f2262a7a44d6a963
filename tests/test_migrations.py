"""The migrations build exactly the models' schema on both backends, and run both ways."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from extensions import alembic_include_object, db
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
