"""The patrol's vocabularies (RULES.md §2-3): kinds of pollution source, problem categories,
severities. Pure: codes and English msgids (translated when shown, see patrol/labels.py)."""

from dataclasses import dataclass


def N_(msgid: str) -> str:  # noqa: N802 - the extraction marker
    return msgid


# Sources kept in the ledger (一企一档); RULES §2 lists what the quarterly survey covers.
SOURCE_KINDS: dict[str, str] = {
    "industrial": N_("Industrial enterprise"),  # 工业企业
    "restaurant": N_("Restaurant"),  # 餐饮
    "car_repair": N_("Car repair"),  # 汽修
    "construction": N_("Construction site"),  # 建筑工地
    "material_yard": N_("Material yard"),  # 物料堆场
    "livestock": N_("Livestock farm"),  # 畜禽养殖场
    "coal_boiler": N_("Coal-fired boiler"),  # 燃煤锅炉
    "small_workshop": N_("Small polluting workshop (散乱污)"),  # 散乱污企业
    "other": N_("Other source"),
}

# Active sources are patrolled daily and drawn at random; the others leave both (RULES §2, §9).
SOURCE_STATUSES: dict[str, str] = {
    "active": N_("Active"),
    "relocated": N_("Relocated"),  # 搬迁
    "long_stopped": N_("Long stopped"),  # 长期停产
    "bankrupt": N_("Bankrupt"),  # 破产
}
ACTIVE = "active"


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
