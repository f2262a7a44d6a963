"""The seven standard phrases an inspection's result is published in (RULES §9; seed 004 六、二):
official text, written in Chinese. Pure: `OUTCOMES[n - 1]` is outcome n (1..7)."""

# 004 六、(二): 检查结果信息公开可采用 ... 等简要的方式进行表述
OUTCOMES: tuple[str, ...] = (
    "未发现问题",
    "发现问题作出责令改正等行政命令",
    "发现问题做出行政指导",
    "发现问题作出行政处罚决定",
    "发现问题作出行政强制决定",
    "发现问题作出其他具体行政行为",
    "发现问题，但是属于其他部门监管，需要移送或通报",
)


def outcome_phrase(number: int) -> str:
    """The phrase of outcome `number` (1..7); ValueError otherwise."""
    if not 1 <= number <= len(OUTCOMES):
        raise ValueError(f"outcome {number} is not 1..{len(OUTCOMES)}")
    return OUTCOMES[number - 1]
