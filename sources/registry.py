"""What other domains show on a source's dossier (its visits, the problems found there)."""

from grid.registry import Registry, Section

DOSSIER_SECTIONS: Registry[Section] = Registry("sources.dossier_sections")
