"""What other domains show on a patrol's page (the problems found on it)."""

from grid.registry import Registry, Section

PATROL_SECTIONS: Registry[Section] = Registry("patrol.page_sections")
