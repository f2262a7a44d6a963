"""Extension points: what a domain offers the app shell and the others without being imported.

A package low in the stack offers a registry; a package above it fills the registry from its
`init_app(app)`; the lower one reads it at run time. So the home page shows the problems waiting
for someone, the navigation lists every domain and `flask audit verify` walks every event chain,
while desk/, the shell on top, is never edited when a domain is added, and no package imports one
above it (DESIGN.md, checked by import-linter).

Entries are kept per application (in `app.extensions`), so two apps in one process (tests) do not
share them; a key registered twice is a programming error and says so.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app
from markupsafe import Markup

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, per application."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._slot = f"gridpatrol.{name}"

    def add(self, app: Flask, key: str, entry: T) -> T:
        entries = app.extensions.setdefault(self._slot, {})
        if key in entries:
            raise RuntimeError(f"{self.name}: {key!r} is registered twice")
        entries[key] = entry
        app.extensions.pop(self._slot + "#ordered", None)
        return entry

    def entries(self, app: Flask | None = None) -> dict[str, T]:
        """Every entry of the (current) application, in the order registered."""
        return (app or current_app).extensions.get(self._slot, {})

    def get(self, key: str) -> T | None:
        return self.entries().get(key)

    def ordered_items(self, app: Flask | None = None) -> list[tuple[str, T]]:
        """(key, entry) by the entries' `order`, then key: for what is shown in a row. Sorted
        once per application (pages ask for it on every request)."""
        extensions = (app or current_app).extensions
        found = extensions.get(self._slot + "#ordered")
        if found is None:
            items = extensions.get(self._slot, {}).items()
            found = extensions[self._slot + "#ordered"] = sorted(
                items, key=lambda kv: (kv[1].order, kv[0])
            )
        return found

    def ordered(self, app: Flask | None = None) -> list[T]:
        return [entry for _key, entry in self.ordered_items(app)]


# --- the app shell: home page counts, navigation, links on a post's card --------------------------


@dataclass(frozen=True)
class HomeCount:
    """A count on the home page, linked to its list: what waits for me, unread notifications...

    All counts of a page are read in one round trip: `query(user_id, posts)` says which form of
    the statement this person needs (a hashable `shape`) and its parameters; `statement(shape)`
    builds that form (the contributor keeps it: it is asked for on every home page). Parameters
    other than `user_id` are named after the entry's key, so that counts do not collide.
    """

    label: str  # an English msgid, translated when shown
    endpoint: str
    query: Callable[[int, Sequence[Any]], tuple[Hashable, dict[str, Any]]]
    statement: Callable[[Hashable], sa.ScalarSelect[Any]]
    order: int = 100
    urgent: bool = False  # stands out when it is not zero
    only_when_any: bool = False  # left out at zero: a count most people never have (inspections)


@dataclass(frozen=True)
class NavEntry:
    """An entry of the main navigation."""

    label: str  # msgid
    endpoint: str
    order: int = 100
    # "all"; "upper" (county offices and above); "admin"; "posted" (people holding a post in
    # the grid today, or administrators); "supervisor" (people holding a grid supervisor's post
    # today). A tab that would only say "you hold no post" or "you have no patrol" is left out.
    audience: str = "all"
    current: tuple[str, ...] = ()  # endpoint prefixes where it is the current section

    def shown_to(
        self, upper: bool, admin: bool, supervisor: bool = False, posted: bool = True
    ) -> bool:
        return (
            self.audience == "all"
            or (self.audience == "upper" and upper)
            or (self.audience == "admin" and admin)
            or (self.audience == "posted" and (posted or admin))
            or (self.audience == "supervisor" and supervisor)
        )


@dataclass(frozen=True)
class PostLink:
    """A link on the card of one of a person's posts on the home page (today's patrol, say)."""

    label: str  # msgid
    endpoint: str
    when: Callable[[Any], bool]  # shown on the card of this post (a grid.access.Post)?
    order: int = 100
    primary: bool = False
    grid_arg: str = "grid"  # the endpoint's argument that takes the post's grid id


@dataclass(frozen=True)
class PublicAction:
    """What a member of the public can do, offered on the sign-in and disclosure pages (report
    a problem online, say): the public should not have to know an address."""

    label: str  # msgid
    endpoint: str
    order: int = 100


HOME_COUNTS: Registry[HomeCount] = Registry("home_counts")
NAVIGATION: Registry[NavEntry] = Registry("navigation")
POST_LINKS: Registry[PostLink] = Registry("post_links")
PUBLIC_ACTIONS: Registry[PublicAction] = Registry("public_actions")


def current_section(endpoint: str | None) -> str | None:
    """The key of the navigation entry a page belongs to (the longest matching prefix)."""
    best, length = None, 0
    for key, entry in NAVIGATION.entries().items():
        for prefix in entry.current:
            if endpoint and endpoint.startswith(prefix) and len(prefix) > length:
                best, length = key, len(prefix)
    return best


# --- parts of one domain's page that another domain shows ---------------------------------------


@dataclass(frozen=True)
class Section:
    """A part of a page of a lower domain that a higher one fills: the problems found on a
    patrol, the visits and problems of a source. `load(record)` gives the template's context, or
    None when there is nothing to show."""

    template: str
    load: Callable[[Any], dict[str, Any] | None]
    order: int = 100


def render_sections(registry: Registry[Section], record: Any) -> list[Markup]:
    """Every registered section of a page, rendered for `record`, in order. The template
    context (what every page gets: the request, the user, the vocabularies) is made once for
    all of them, not once per section."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    shared: dict[str, Any] = {}
    parts = []
    for section in registry.ordered(app):
        context = section.load(record)
        if context is not None:
            if not shared:
                app.update_template_context(shared)
            template = app.jinja_env.get_template(section.template)
            parts.append(Markup(template.render({**shared, **context})))  # noqa: S704 - autoescaped  # nosec B704
    return parts


# --- event chains (grid/audit.py) -----------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """An append-only, hash-chained event table (grid/chain.py): each row holds its owner's id,
    its place `seq` (1, 2, ...), the previous row's hash and its own; the owner keeps the last
    hash (the head), so a removed last event shows too. `record(row)` is what the hash covers:
    the row's content and, as "prev", the previous hash it names."""

    owner: Any  # the model whose records have a chain (Problem)
    head: str  # the owner's column holding the last hash
    events: Any  # the event model (ProblemEvent)
    owner_key: str  # the events' column naming the owner
    record: Callable[[Any], dict[str, Any]]
    order: int = 100


CHAINS: Registry[Chain] = Registry("chains")
