"""What a notification is about, and where it links: each domain registers the kind of subject
it notifies about ("problem" for "problem:123", "alert" next)."""

from dataclasses import dataclass

from flask import url_for

from grid.registry import Registry


@dataclass(frozen=True)
class Subject:
    """A kind of subject: the page of one (`endpoint`), which takes the id as `arg`."""

    endpoint: str
    arg: str
    order: int = 100


SUBJECTS: Registry[Subject] = Registry("notify.subjects")


def subject_url(subject: str) -> str | None:
    """The page a notification's subject ("problem:123") links to, if its kind is known."""
    kind, _sep, ident = subject.partition(":")
    entry = SUBJECTS.get(kind)
    if entry is None or not ident.isdigit():
        return None
    return url_for(entry.endpoint, **{entry.arg: int(ident)})
