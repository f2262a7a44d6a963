"""Daily patrols: a supervisor's patrol of their grid, its route, the sources visited, and the
coverage of the sources every day (RULES §2)."""

from flask import Flask

from evidence.registry import PHOTO_OWNERS, PhotoOwner
from grid.registry import NAVIGATION, POST_LINKS, NavEntry, PostLink, Section
from i18n import N_
from patrol import catalog, labels, queries, services, views
from patrol.models import visit_photo
from sources.registry import DOSSIER_SECTIONS
from sync.registry import ITEM_KINDS, PHOTO_PARENTS, ItemKind, PhotoParent


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    labels.register(app)
    # Vocabularies are fixed: globals of the templates cost nothing per page (a context
    # processor runs on every render).
    app.jinja_env.globals["VISIT_OUTCOMES"] = catalog.VISIT_OUTCOMES
    for order, (kind, record) in enumerate(
        (
            ("patrol.start", services.record_start),
            ("patrol.route", services.record_route),
            ("visit", services.record_visit),
            ("patrol.end", services.record_end),
        )
    ):
        ITEM_KINDS.add(app, kind, ItemKind(record, order))
    PHOTO_OWNERS.add(app, "visit", PhotoOwner(visit_photo))
    PHOTO_PARENTS.add(app, "visit", PhotoParent(services.find_visit))
    DOSSIER_SECTIONS.add(
        app, "visits", Section("patrol/_source_visits.html", queries.source_visits, 10)
    )
    NAVIGATION.add(
        app,
        "patrol",
        NavEntry(N_("Patrol"), "patrol.index", 30, audience="supervisor", current=("patrol.",)),
    )
    POST_LINKS.add(
        app,
        "patrol",
        PostLink(
            N_("Today's patrol"),
            "patrol.index",
            lambda post: post.role == "supervisor",
            10,
            primary=True,
        ),
    )
