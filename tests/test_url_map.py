"""The URLs stay the same: the phones' cached pages and queued items use them. The list kept in
tests/url_map.txt is the app's public interface; changing it is a decision, not a side effect."""

import os

from app import create_app
from tests.conftest import BASE_CONFIG

LISTED = os.path.join(os.path.dirname(__file__), "url_map.txt")


def url_map(app) -> list[str]:
    rows = sorted(
        (rule.rule, ",".join(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        for rule in app.url_map.iter_rules()
    )
    return [f"{methods} {path}" for path, methods in rows]


def test_the_url_map_is_the_one_kept_in_the_repository():
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with open(LISTED, encoding="utf-8") as fh:
        kept = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    assert url_map(app) == kept


def test_every_blueprint_is_named_after_its_package():
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    for name, blueprint in app.blueprints.items():
        assert blueprint.import_name.split(".")[0] == name, (name, blueprint.import_name)
