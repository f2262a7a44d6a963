"""The tamper-evident event logs: appending a link to a registered chain, and verifying every
chain that exists (`flask audit verify`). The hashing is grid/chain.py; which tables are chains,
each domain says in its init_app (grid.registry.CHAINS)."""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from extensions import db
from grid.chain import Link, first_break, link_hash
from grid.registry import CHAINS, Chain


def append(chain: Chain, owner: Any, event: Any) -> Any:
    """Add `event` as the next link of `owner`'s chain (never an update of an earlier one)."""
    column = getattr(chain.events, chain.owner_key)
    with db.session.no_autoflush:  # the owner's changes and its new head: one UPDATE
        last = db.session.scalar(sa.select(sa.func.max(chain.events.seq)).where(column == owner.id))
    event.seq = (last or 0) + 1
    event.prev_hash = getattr(owner, chain.head)
    event.hash = link_hash(chain.record(event))
    setattr(owner, chain.head, event.hash)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    owner_id: int
    seq: int | None  # None: the head
    reason: str


def verify(name: str, owner_ids: Sequence[int] | None = None) -> tuple[ChainBreak | None, int]:
    """The first broken link of the chain `name` (in owner order) and how many events were
    checked up to there. One streamed query over the events in (owner, seq) order, read as plain
    rows: the whole log is checked without holding it in memory."""
    chain = CHAINS.entries()[name]
    key = getattr(chain.events, chain.owner_key)
    heads = sa.select(chain.owner.id, getattr(chain.owner, chain.head)).order_by(chain.owner.id)
    events = sa.select(*chain.events.__table__.c).order_by(key, chain.events.seq)
    if owner_ids is not None:
        ids = list(owner_ids)
        heads = heads.where(chain.owner.id.in_(ids))
        events = events.where(key.in_(ids))
    head_of = db.session.execute(heads).all()
    rows = db.session.execute(events.execution_options(yield_per=5000))
    chains = groupby(rows, key=itemgetter(_position(chain)))
    pending = next(chains, None)
    checked = 0
    try:
        for owner_id, head in head_of:
            rows_of_owner: list = []
            while pending is not None and pending[0] < owner_id:  # events of no owner (none)
                pending = next(chains, None)
            if pending is not None and pending[0] == owner_id:
                rows_of_owner = list(pending[1])
                pending = next(chains, None)
            record = chain.record
            links = (Link(r.seq, r.prev_hash, r.hash, record(r)) for r in rows_of_owner)
            broken = first_break(links, head)
            if broken is not None:
                return ChainBreak(name, owner_id, broken.seq, broken.reason), checked
            checked += len(rows_of_owner)
    finally:
        rows.close()
    return None, checked


def _position(chain: Chain) -> int:
    """Where the owner's id is in a row of the event table."""
    return list(chain.events.__table__.c.keys()).index(chain.owner_key)
