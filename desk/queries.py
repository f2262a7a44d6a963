"""The home page's counts: every domain's (grid.registry.HOME_COUNTS) in one round trip."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import current_app

from extensions import db
from grid.registry import HOME_COUNTS, HomeCount


def home_counts(user_id: int, posts: Sequence[Any]) -> list[tuple[HomeCount, int]]:
    """Each registered count for this person, in order, read with one SELECT of scalar
    subqueries. The SELECT is built once per combination of the counts' shapes and kept."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    entries = HOME_COUNTS.ordered(app)
    shapes: list[Any] = []
    params: dict[str, Any] = {"user_id": user_id}
    for entry in entries:
        shape, own = entry.query(user_id, posts)
        shapes.append(shape)
        clash = {k for k in own.keys() & params.keys() if own[k] != params[k]}
        if clash:  # a programming error: two counts would read each other's values
            raise RuntimeError(f"home counts share the parameters {sorted(clash)}")
        params.update(own)
    key = tuple(zip((id(e) for e in entries), shapes, strict=True))
    statements = app.extensions.setdefault("desk.home_statements", {})
    statement = statements.get(key)
    if statement is None:
        if len(statements) > 1000:  # shapes are few; never let odd ones pile up
            statements.clear()
        statement = statements[key] = sa.select(
            *(entry.statement(shape) for entry, shape in zip(entries, shapes, strict=True))
        )
    row = db.session.connection().execute(statement, params).one()
    counts = [(entry, int(n or 0)) for entry, n in zip(entries, row, strict=True)]
    return [(entry, n) for entry, n in counts if n or not entry.only_when_any]
