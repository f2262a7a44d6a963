"""The ledger's vocabularies (RULES.md §2): kinds of pollution source and their statuses. Pure:
codes and English msgids, translated when shown."""

from i18n import N_

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
