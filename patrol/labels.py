"""The words for what a patrol records (problem categories, severities), in the user's
language."""

from i18n.language import label
from patrol import catalog

CATEGORY = {c.code: c.label for c in catalog.CATEGORIES}


def register(app) -> None:
    app.jinja_env.filters.update(
        category_label=label(CATEGORY),
        severity_text=label(catalog.SEVERITIES),
    )
