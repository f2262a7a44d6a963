"""What each workflow shows on the enforcement page (enforce.views.index), registered from its
`init_app`: the page does not import the workflows, which import the page's blueprint."""

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from grid.access import Scope
from grid.registry import Registry


@dataclass(frozen=True)
class HubSection:
    """One workflow's part of the page: `render(scope)` gives its HTML (what is due, links),
    or an empty Markup when the person has nothing there."""

    render: Callable[[Scope], Markup]
    order: int = 100


HUB_SECTIONS: Registry[HubSection] = Registry("enforce.hub_sections")
