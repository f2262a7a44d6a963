"""Double-random inspections (RULES §9, seeds 004 and 002): the inspector library and its
recusals, reproducible monthly draws of targets and inspectors with the minimum ratios, the
quarterly statistics (pages.py). The tasks on the phone, results and publication: task_pages,
results, public_pages, publication (registered by enforce.init_app)."""

from flask import Flask

from enforce.draws import (  # noqa: F401 - the tables and the pages
    models,
    pages,
    public_pages,
    task_pages,
)
from enforce.registry import HUB_SECTIONS, HubSection


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the double-random inspections."""
    HUB_SECTIONS.add(app, "draws", HubSection(pages.hub, order=20))
    task_pages.register(app)  # the tasks' notifications, photos, home count, public link
