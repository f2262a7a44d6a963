"""What a notification is about, and where it links: each domain registers the kind of subject
it notifies about ("problem" for "problem:123", "alert" next)."""

from dataclasses import dataclass

from flask import current_app, has_request_context, request, url_for

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


def subject_path(subject: str) -> str | None:
    """The path of a subject's page, made without a request (a task, a command): what a push
    opens when touched."""
    kind, _sep, ident = subject.partition(":")
    entry = SUBJECTS.get(kind)
    if entry is None or not ident.isdigit():
        return None
    root = (
        request.script_root
        if has_request_context()
        else (current_app.config.get("APPLICATION_ROOT") or "/")
    )
    adapter = current_app.url_map.bind("localhost", script_name=root or "/")
    return adapter.build(entry.endpoint, {entry.arg: int(ident)})
