"""Hash chains: an append-only log in which every link carries the hash of the one before. Pure.

A link's hash covers its content and the previous link's hash; the record the chain belongs to
keeps the last hash (the head). Editing a link, re-hashing one, removing one or removing the last
one (the head no longer matches) is found by `first_break`. What a chain cannot show by itself is
a log rewritten whole together with its head: that needs an anchor kept outside the database.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def canonical(content: Mapping[str, Any], prev: str | None) -> str:
    """The text a link's hash is taken of: its content and the previous hash, as compact JSON
    with sorted keys (the same bytes on every machine and database)."""
    return json.dumps(
        {**content, "prev": prev}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def link_hash(content: Mapping[str, Any], prev: str | None) -> str:
    """The SHA-256 (hex) of a link."""
    return hashlib.sha256(canonical(content, prev).encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """One link as stored: its place (1, 2, ...), the previous hash it names, its own hash and
    the content that hash should cover."""

    seq: int
    prev_hash: str | None
    hash: str
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Break:
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
        if link_hash(link.content, link.prev_hash) != link.hash:
            return Break(link.seq, "its content was changed")
        previous, expected = link.hash, expected + 1
    if previous != head:
        return Break(None, "the last event is missing or the head was changed")
    return None
