"""The draw itself (RULES §9 双随机: targets at random, inspectors at random), reproducible:
`draw(seed, asked, snapshot)` gives the same tasks for the same seed and population, so an
audit can draw again from what the Draw recorded and compare. Pure.

- The population (`Snapshot`) is taken by the caller from the ledger and the library: per
  category, the eligible sources (relocated, long-stopped and bankrupt units are not eligible,
  004 三), in tiers, each sorted by id: the units the office has not drawn yet this year, then
  those not drawn yet this quarter, then the others (so that the quarter's and the year's
  minimums count distinct units); the office's active inspectors, sorted by id; the recusals.
- Categories are drawn in the order of ratios.CATEGORIES with one `random.Random(seed)`: from
  each category's first tier as many as it holds (`sample`), then from the next. A source
  drawn in a category is not drawn again in a later one of the same draw (a key polluter drawn
  as such is not also drawn as a monitoring facility).
- Inspectors: TEAM (2) per task (执法人员不少于两人), never one recused from the target; the
  candidates shuffled, then the least loaded first, so the tasks spread evenly."""

import hashlib
import json
import random
from dataclasses import dataclass, field

from enforce.draws.ratios import CATEGORIES

TEAM = 2  # 行政处罚法 art. 42: no fewer than two law-enforcement officers


@dataclass(frozen=True)
class Snapshot:
    """What a draw draws from: `targets[category]` its tiers of source ids, `inspectors` the
    ids of the office's active inspectors, `conflicts` (inspector id, source id) recusals."""

    targets: dict[str, tuple[tuple[int, ...], ...]]
    inspectors: tuple[int, ...]
    conflicts: frozenset[tuple[int, int]] = field(default_factory=frozenset)

    def eligible(self, category: str) -> int:
        return sum(len(tier) for tier in self.targets.get(category, ()))

    def to_json(self) -> str:
        """Canonical JSON: the same population gives the same text, whatever the order given."""
        data = {
            "targets": {
                category: [sorted(tier) for tier in tiers]
                for category, tiers in sorted(self.targets.items())
            },
            "inspectors": sorted(self.inspectors),
            "conflicts": sorted([list(pair) for pair in self.conflicts]),
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        data = json.loads(text)
        return cls(
            targets={
                category: tuple(tuple(sorted(tier)) for tier in tiers)
                for category, tiers in data["targets"].items()
            },
            inspectors=tuple(sorted(data["inspectors"])),
            conflicts=frozenset((a, b) for a, b in data["conflicts"]),
        )

    @classmethod
    def of(
        cls,
        targets: dict[str, list[list[int]]],
        inspectors: list[int],
        conflicts: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    ) -> "Snapshot":
        """A snapshot with its tiers and inspectors sorted by id."""
        return cls(
            targets={c: tuple(tuple(sorted(t)) for t in tiers) for c, tiers in targets.items()},
            inspectors=tuple(sorted(inspectors)),
            conflicts=frozenset(conflicts),
        )


@dataclass(frozen=True)
class Drawn:
    """A task drawn: the target, its category, its inspectors in order."""

    category: str
    source_id: int
    inspector_ids: tuple[int, ...]


class DrawRefused(Exception):
    """The draw cannot be made as asked."""


class TooFewTargets(DrawRefused):
    def __init__(self, category: str, asked: int, eligible: int):
        super().__init__(f"asked {asked} {category}, only {eligible} eligible")
        self.category, self.asked, self.eligible = category, asked, eligible


class TooFewInspectors(DrawRefused):
    """Fewer than TEAM inspectors for a target (`source_id`), or in the office (None)."""

    def __init__(self, source_id: int | None, available: int, needed: int):
        super().__init__(f"{available} inspectors for source {source_id}, {needed} needed")
        self.source_id, self.available, self.needed = source_id, available, needed


def _units(snapshot: Snapshot, category: str) -> set[int]:
    return {source for tier in snapshot.targets.get(category, ()) for source in tier}


def eligible(asked: dict[str, int], snapshot: Snapshot, category: str) -> int:
    """The units of a category this draw can surely give, whatever the seed: its population
    less what the earlier categories of the draw may take of it (a key polluter drawn as such
    is not drawn again as a monitoring facility)."""
    earlier = [c for c in CATEGORIES[: CATEGORIES.index(category)] if asked.get(c, 0)]
    units = _units(snapshot, category)
    shared = units & set().union(*(_units(snapshot, c) for c in earlier))
    return len(units) - min(len(shared), sum(asked[c] for c in earlier))


def check(asked: dict[str, int], snapshot: Snapshot, team: int = TEAM) -> None:
    """Refuse what some seed could not draw: unknown categories, negative numbers, more units
    asked than eligible, fewer inspectors than a team. What passes, every seed draws (but a
    recusal may still leave a target fewer than a team: TooFewInspectors from `draw`)."""
    for category, number in asked.items():
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        if number < 0:
            raise ValueError(f"negative number asked for {category}")
    for category, number in asked.items():
        if number > eligible(asked, snapshot, category):
            raise TooFewTargets(category, number, eligible(asked, snapshot, category))
    if sum(asked.values()) and len(snapshot.inspectors) < team:
        raise TooFewInspectors(None, len(snapshot.inspectors), team)


def _targets(rng: random.Random, asked: dict[str, int], snapshot: Snapshot) -> list[Drawn]:
    taken: set[int] = set()
    drawn: list[Drawn] = []
    for category in CATEGORIES:
        wanted = asked.get(category, 0)
        if not wanted:
            continue
        tiers = [[s for s in tier if s not in taken] for tier in snapshot.targets.get(category, ())]
        left = sum(len(tier) for tier in tiers)
        if wanted > left:  # `check` makes this impossible
            raise TooFewTargets(category, wanted, left)
        picked: list[int] = []
        for tier in tiers:
            picked += rng.sample(tier, min(wanted - len(picked), len(tier)))
        taken.update(picked)
        drawn += [Drawn(category, source_id, ()) for source_id in picked]
    return drawn


def _inspectors(
    rng: random.Random, drawn: list[Drawn], snapshot: Snapshot, team: int
) -> list[Drawn]:
    load = dict.fromkeys(snapshot.inspectors, 0)
    teamed: list[Drawn] = []
    for task in drawn:
        candidates = [
            i for i in snapshot.inspectors if (i, task.source_id) not in snapshot.conflicts
        ]
        if len(candidates) < team:
            raise TooFewInspectors(task.source_id, len(candidates), team)
        rng.shuffle(candidates)
        candidates.sort(key=load.__getitem__)  # stable: the shuffle breaks the ties
        chosen = tuple(candidates[:team])
        for inspector in chosen:
            load[inspector] += 1
        teamed.append(Drawn(task.category, task.source_id, chosen))
    return teamed


def draw(seed: int, asked: dict[str, int], snapshot: Snapshot, team: int = TEAM) -> list[Drawn]:
    """The tasks of a draw, in the order drawn; DrawRefused when it cannot be made."""
    check(asked, snapshot, team)
    rng = random.Random(seed)  # noqa: S311 - reproducible on purpose: the seed is secret
    return _inspectors(rng, _targets(rng, asked, snapshot), snapshot, team)
