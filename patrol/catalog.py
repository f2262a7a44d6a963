"""What a patrol looks for and records (RULES.md §3): the categories of problems found, with the
stop-on-the-spot list, their severities, and a visit's outcomes. Pure: codes and English msgids,
translated when shown. The problem workflow, upper-level findings and complaints use the same
categories (problems/ imports them from here)."""

from dataclasses import dataclass

from i18n import N_


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    stop_on_spot: bool  # on the list a village supervisor stops on the spot (001 annex 1 art. 8)


# 001 annex 1 art. 8: what a level-4 patrol looks for, and what it stops on the spot.
CATEGORIES: tuple[Category, ...] = (
    Category("scattered_polluting", N_("Scattered polluting workshop (散乱污)"), False),
    Category("coal_boiler", N_("Coal-fired boiler (燃煤锅炉)"), False),
    Category("dust", N_("Dust (扬尘)"), False),
    Category("black_odorous_water", N_("Black and odorous water (黑臭水体)"), False),
    Category("garbage_pile", N_("Garbage pile (垃圾堆放)"), False),
    Category("farm_film", N_("Residual farm film (残膜回收)"), True),
    Category("pesticide_packaging", N_("Pesticide packaging waste (农药包装废弃物)"), True),
    Category("open_burning", N_("Open burning of garbage (露天焚烧垃圾)"), True),
    Category("straw_burning", N_("Straw burning (焚烧秸秆)"), True),
    Category("sewage_dumping", N_("Dumping of sewage (随意倾倒污水)"), True),
    Category("livestock_pollution", N_("Livestock pollution (畜禽养殖污染)"), True),
    Category("noise", N_("Noise nuisance (噪音扰民)"), True),
    Category("other", N_("Other problem"), False),
)
CATEGORY_CODES = frozenset(c.code for c in CATEGORIES)

SEVERITIES: dict[str, str] = {
    "minor": N_("Minor"),  # 轻微
    "moderate": N_("Moderate"),  # 一般
    "serious": N_("Serious"),  # 严重
}

VISIT_OUTCOMES: dict[str, str] = {
    "normal": N_("Normal"),
    "problem": N_("Problem found"),
}
