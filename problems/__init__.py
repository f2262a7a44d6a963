"""The problem workflow: the pure state machine (escalation.py), hash-chained events, inboxes,
public complaints, office entry, upper-level findings and their matching (findings.py)."""

from flask import Flask

from evidence.registry import PHOTO_OWNERS, PhotoOwner
from grid.registry import (
    CHAINS,
    HOME_COUNTS,
    NAVIGATION,
    PUBLIC_ACTIONS,
    Chain,
    HomeCount,
    NavEntry,
    PublicAction,
    Section,
)
from i18n import N_
from notify.registry import SUBJECTS, Subject
from patrol import catalog
from patrol.registry import PATROL_SECTIONS
from problems import access, cli, findings, labels, queries, services, settings, views
from problems.models import Problem, ProblemEvent, problem_photo
from sources.registry import DOSSIER_SECTIONS
from sync.registry import ITEM_KINDS, PHOTO_PARENTS, ItemKind, PhotoParent


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    cli.register(app)
    labels.register(app)
    app.jinja_env.globals.update(
        deadline_class=views.deadline_class,
        deadline_text=views.deadline_text,
        due_text=views.due_text,
        day_included=views.day_included,
        FINDING_KINDS=findings.KINDS,
        MEDIA_LEVELS=findings.MEDIA_LEVELS,
        DECISIONS=findings.DECISIONS,
        CATEGORIES=catalog.CATEGORIES,
    )
    CHAINS.add(
        app,
        "problem",
        Chain(Problem, "last_event_hash", ProblemEvent, "problem_id", services.event_record),
    )
    ITEM_KINDS.add(app, "problem", ItemKind(services.record_problem, 50))
    PUBLIC_ACTIONS.add(
        app,
        "complaint",
        PublicAction(N_("Report a pollution problem online"), "problems.complaint"),
    )
    PHOTO_OWNERS.add(app, "problem", PhotoOwner(problem_photo, access.may_view_photo))
    PHOTO_PARENTS.add(app, "problem", PhotoParent(services.find_problem))
    HOME_COUNTS.add(
        app,
        "inbox",
        HomeCount(
            N_("Waiting for me"),
            "problems.inbox",
            queries.inbox_home_count,
            queries.inbox_count_statement,
            order=10,
            urgent=True,
        ),
    )
    NAVIGATION.add(
        app, "problems", NavEntry(N_("Problems"), "problems.index", 40, current=("problems.",))
    )
    NAVIGATION.add(
        app,
        "findings",
        NavEntry(
            N_("Upper-level findings"),
            "problems.findings_index",
            45,
            "upper",
            ("problems.findings_",),
        ),
    )
    DOSSIER_SECTIONS.add(
        app, "problems", Section("problems/_source_problems.html", queries.source_problems, 20)
    )
    PATROL_SECTIONS.add(
        app, "problems", Section("problems/_patrol_problems.html", queries.patrol_problems, 10)
    )
    SUBJECTS.add(app, "problem", Subject("problems.show", "problem_id"))
