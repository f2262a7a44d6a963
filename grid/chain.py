"""Hash chains: an append-only log in which every link carries the hash of the one before. Pure.

A link's hash covers its content and the previous link's hash; the record the chain belongs to
keeps the last hash (the head). Editing a link, re-hashing one, removing one or removing the last
one (the head no longer matches) is found by `first_break`. What a chain cannot show by itself is
a log rewritten whole together with its head: that needs an anchor kept outside the database.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

# json.dumps with these options builds an encoder on every call; one kept is twice as fast and
# writes the same bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(record: Mapping[str, Any]) -> str:
    """The text a link's hash is taken of: its record (which names the previous link's hash as
    "prev") as compact JSON with sorted keys, the same bytes on every machine and database."""
    return _ENCODER.encode(record)


def link_hash(record: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of a link's record."""
    return hashlib.sha256(canonical(record).encode()).hexdigest()


class Link(NamedTuple):
    """One link as stored: its place (1, 2, ...), the previous hash it names, its own hash and
    the record that hash should cover (including "prev")."""

    seq: int
    prev_hash: str | None
    hash: str
    record: Mapping[str, Any]


class Break(NamedTuple):
    """The first place a chain does not hold: the link (None: the head) and why."""

    seq: int | None
    reason: str


def first_break(links: Iterable[Link], head: str | None) -> Break | None:
    """Where the chain of `links` (in their order) and its `head` stop holding, or None."""
    previous, expected = None, 1
    for link in links:
        if link.seq != expected:
            return Break(expected, "an event is missing")
        if link.prev_hash != previous:
            return Break(link.seq, "it does not follow the event before")
        if link_hash(link.record) != link.hash:
            return Break(link.seq, "its content was changed")
        previous, expected = link.hash, expected + 1
    if previous != head:
        return Break(None, "the last event is missing or the head was changed")
    return None
