"""The readings' monthly partitions on PostgreSQL (migration 0006 made the first thirteen):
each month's table is made ahead of time, so readings never land in the default partition
while their month is current. SQLite keeps one table and needs nothing."""

from datetime import date

import sqlalchemy as sa

from alerts.models import DEFAULT_PARTITION, PARTITION_PREFIX
from extensions import db
from grid.time import local_today


def month_starts(first: date, months: int) -> list[date]:
    """The first days of `months` months from the month of `first`."""
    starts = []
    for n in range(months):
        index = first.month - 1 + n
        starts.append(date(first.year + index // 12, index % 12 + 1, 1))
    return starts


def ensure_ahead(months: int = 3, today: date | None = None) -> list[str]:
    """Make the partitions of this month and the next `months`; returns the ones made."""
    if db.engine.dialect.name != "postgresql":
        return []
    today = today or local_today()
    existing = set(
        db.session.scalars(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reading'"
            )
        )
    )
    made = []
    starts = month_starts(today.replace(day=1), months + 2)
    for start, end in zip(starts, starts[1:], strict=False):
        name = f"{PARTITION_PREFIX}{start:%Y%m}"
        if name in existing:
            continue
        # A reading of that month already in the default partition would make this fail:
        # move such rows out first, in the same transaction.
        db.session.execute(
            sa.text(f"CREATE TABLE {name} (LIKE reading INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        )
        db.session.execute(
            sa.text(
                # names made here from constants and a date, never from input
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE measured_at >= :start "  # noqa: S608  # nosec B608
                f"AND measured_at < :end RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            {"start": start, "end": end},
        )
        db.session.execute(
            sa.text(
                f"ALTER TABLE reading ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        )
        made.append(name)
    db.session.commit()
    return made
