"""What pages and other domains read of the ledger."""

from typing import Any

import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from extensions import db
from grid.models import Grid, subtree_clause
from sources import catalog
from sources.models import Source


def sources_in(grid: Grid, active_only: bool = False) -> list[Source]:
    query = sa.select(Source).join(Grid, Grid.id == Source.grid_id).where(subtree_clause(grid.path))
    if active_only:
        query = query.where(Source.status == catalog.ACTIVE)
    return list(db.session.scalars(query.order_by(Source.name, Source.id)))


def source_points(grid: Grid) -> list[dict[str, Any]]:
    """The active sources of a grid with their positions: what the patrol page shows offline."""
    rows = db.session.execute(
        sa.select(
            Source.id,
            Source.name,
            Source.kind,
            Source.key_polluter,
            Source.special_supervision,
            Source.address,
            Source.location,
        )
        .join(Grid, Grid.id == Source.grid_id)
        .where(subtree_clause(grid.path), Source.status == catalog.ACTIVE)
        .order_by(Source.name, Source.id)
    )
    result = []
    for sid, name, kind, key, special, address, location in rows:
        shape = to_shape(location) if location is not None else None
        result.append(
            {
                "id": sid,
                "name": name,
                "kind": kind,
                "key": key,
                "special": special,
                "address": address,
                "lon": shape.x if shape else None,
                "lat": shape.y if shape else None,
            }
        )
    return result
