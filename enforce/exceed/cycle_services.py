"""The monthly cycle of the exceedance workflow (RULES §8): recording its steps, the review
meeting's minutes and the clue handover list, and reading where a month's cycle stands.

Each action checks everything before it writes: a ServiceError says what is wrong, and nothing
is written then (a step done twice, a month not yet over, minutes without conclusions). They
flush; the request commits once. The date a step is done is the day it is recorded
(`today`, the local date): the pages pass grid.time.local_today(), the tests a fixed day."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from enforce.exceed import cycle
from enforce.exceed.cycle import Body, Step, StepStatus
from enforce.exceed.cycle_models import CycleClue, CycleStep, ReviewMinutes
from enforce.exceed.models import (
    Disposal,
    DisposalKind,
    Exceedance,
    ExceedanceStatus,
    MonitoringPoint,
)
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from grid.time import local_day_utc
from grid.workdays import WorkCalendar
from sources.models import Source

RECORDED_HERE = (Step.DETACHMENT_STATS, Step.CENTRE_COMPILE, Step.MONTHLY_NOTICE)
"""The prefecture's steps recorded as done with a note; the meeting is done by its minutes and
the handover by making the list."""


def _who(by: User | None) -> int | None:
    return by.id if by else None


def _month_words(month: date) -> str:
    return f"{month:%Y-%m}"


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountyCounts:
    """A county's month: valid exceedance hours, its cases and opinions (distinct disposals)
    and the hours without a disposal."""

    exceedances: int = 0
    cases: int = 0
    opinions: int = 0
    undisposed: int = 0


def county_counts(month: date) -> dict[int, CountyCounts]:
    """Each county's counts for `month` (valid exceedances only: invalid data is not reported)."""
    first, end = cycle.first_of(month), cycle.next_month(month)
    rows = db.session.execute(
        sa.select(Exceedance.county_id, Exceedance.disposal_id, Disposal.kind)
        .outerjoin(Disposal, Disposal.id == Exceedance.disposal_id)
        .where(
            Exceedance.status == ExceedanceStatus.VALID,
            Exceedance.day >= first,
            Exceedance.day < end,
        )
    ).all()
    hours: Counter[int] = Counter()
    undisposed: Counter[int] = Counter()
    disposals: dict[int, dict[int, str]] = {}
    for county_id, disposal_id, kind in rows:
        hours[county_id] += 1
        if disposal_id is None:
            undisposed[county_id] += 1
        else:
            disposals.setdefault(county_id, {})[disposal_id] = kind
    return {
        county_id: CountyCounts(
            exceedances=hours[county_id],
            cases=sum(1 for k in disposals.get(county_id, {}).values() if k == DisposalKind.CASE),
            opinions=sum(
                1 for k in disposals.get(county_id, {}).values() if k == DisposalKind.OPINION
            ),
            undisposed=undisposed[county_id],
        )
        for county_id in hours
    }


@dataclass(frozen=True)
class Uncased:
    """An enterprise with valid exceedances in the month and no case filed for any of them."""

    source_id: int
    name: str
    county_id: int
    county: str
    exceedances: int
    key_polluter: bool


def uncased(month: date) -> list[Uncased]:
    """The month's enterprises without a case, most exceedances first (the meeting decides on
    them, RULES §8)."""
    first, end = cycle.first_of(month), cycle.next_month(month)
    rows = db.session.execute(
        sa.select(
            Exceedance.source_id,
            Exceedance.county_id,
            sa.func.count(Exceedance.id),
            sa.func.max(sa.case((Disposal.kind == DisposalKind.CASE, 1), else_=0)),
        )
        .outerjoin(Disposal, Disposal.id == Exceedance.disposal_id)
        .where(
            Exceedance.status == ExceedanceStatus.VALID,
            Exceedance.day >= first,
            Exceedance.day < end,
        )
        .group_by(Exceedance.source_id, Exceedance.county_id)
    ).all()
    wanted = [(s, c, n) for s, c, n, cased in rows if not cased]
    sources = {
        s.id: s
        for s in db.session.scalars(sa.select(Source).where(Source.id.in_([w[0] for w in wanted])))
    }
    names = _county_names({c for _s, c, _n in wanted})
    found = [
        Uncased(s, sources[s].name, c, names.get(c, ""), n, bool(sources[s].key_polluter))
        for s, c, n in wanted
    ]
    return sorted(found, key=lambda u: (-u.exceedances, u.name, u.source_id))


def _source_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Source.id, Source.name).where(Source.id.in_(wanted)))
    return {source_id: name for source_id, name in rows}


def _county_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Grid.id, Grid.name).where(Grid.id.in_(wanted)))
    return {grid_id: name for grid_id, name in rows}


def reporting_counties(month: date) -> list[Grid]:
    """The counties that owe `month`'s report: those with an online-monitored enterprise (a
    monitoring point) before the month ended, or with exceedances that month, or that
    reported it, in tree order."""
    first, end = cycle.first_of(month), cycle.next_month(month)
    with_points = sa.select(MonitoringPoint.county_id).where(
        MonitoringPoint.created_at < local_day_utc(end)[0]
    )
    with_exceedances = sa.select(Exceedance.county_id).where(
        Exceedance.day >= first, Exceedance.day < end
    )
    reported = sa.select(CycleStep.county_id).where(
        CycleStep.month == first, CycleStep.step == Step.COUNTY_REPORT
    )
    return list(
        db.session.scalars(
            sa.select(Grid)
            .where(
                sa.or_(
                    Grid.id.in_(with_points),
                    Grid.id.in_(with_exceedances),
                    Grid.id.in_(reported),
                )
            )
            .order_by(Grid.path)
        )
    )


@dataclass(frozen=True)
class Line:
    """One step of the month for one party, where it stands."""

    step: Step
    body: Body
    party: str  # the county's name, or the body's words
    county_id: int | None
    status: StepStatus
    record: CycleStep | None
    counts: CountyCounts | None = None  # a county's: live until it reports, then as reported


@dataclass(frozen=True)
class MonthCycle:
    month: date
    today: date
    counties: list[Line]
    steps: list[Line]  # the prefecture's steps
    minutes: ReviewMinutes | None
    clues: list[CycleClue]
    late: Counter[str]  # party -> late steps
    reportable: bool
    source_names: dict[int, str]  # the clues' enterprises
    county_names: dict[int, str]  # the clues' counties

    @property
    def lines(self) -> list[Line]:
        return self.counties + self.steps

    def line(self, step: Step) -> Line:
        return next(line for line in self.steps if line.step is step)


def _done(month: date) -> dict[tuple[str, str], CycleStep]:
    return {
        (record.step, record.party): record
        for record in db.session.scalars(sa.select(CycleStep).where(CycleStep.month == month))
    }


def month_cycle(month: date, today: date, working_days: int, calendar: WorkCalendar) -> MonthCycle:
    """Where `month`'s cycle stands on `today`: each county's report and each prefecture step
    with its deadline and state, the minutes, the clues and the late steps per party."""
    first = cycle.first_of(month)
    done = _done(first)
    live = county_counts(first)

    def status(step: Step, record: CycleStep | None) -> StepStatus:
        due = cycle.deadline(step, first)
        return cycle.status(due, record.done_on if record else None, today, working_days, calendar)

    counties = []
    for county in reporting_counties(first):
        record = done.get((Step.COUNTY_REPORT, str(county.id)))
        counts = (
            CountyCounts(
                record.exceedances or 0,
                record.cases or 0,
                record.opinions or 0,
                record.undisposed or 0,
            )
            if record is not None
            else live.get(county.id, CountyCounts())
        )
        counties.append(
            Line(
                Step.COUNTY_REPORT,
                Body.COUNTY,
                county.name,
                county.id,
                status(Step.COUNTY_REPORT, record),
                record,
                counts,
            )
        )
    steps = []
    for step in cycle.PREFECTURE_STEPS:
        record = done.get((step, ""))
        body = cycle.OWNER[step]
        steps.append(Line(step, body, cycle.BODY_WORDS[body], None, status(step, record), record))
    lines = counties + steps
    clues = clues_of(first)
    sources = [c.source_id for c in clues]
    return MonthCycle(
        month=first,
        today=today,
        counties=counties,
        steps=steps,
        minutes=db.session.scalar(sa.select(ReviewMinutes).where(ReviewMinutes.month == first)),
        clues=clues,
        late=cycle.late_counts((line.party, line.status) for line in lines),
        reportable=cycle.is_reportable(first, today),
        source_names=_source_names(sources),
        county_names=_county_names({c.county_id for c in clues}),
    )


def clues_of(month: date) -> list[CycleClue]:
    """The month's clues, as the handover list orders them (the detachment's first)."""
    found = list(db.session.scalars(sa.select(CycleClue).where(CycleClue.month == month)))
    return sorted(found, key=lambda c: (c.kept is not True, cycle.priority(_as_clue(c))))


def _as_clue(clue: CycleClue) -> cycle.Clue:
    return cycle.Clue(
        clue.source_id, clue.escalated, clue.key_polluter, clue.difficult, clue.exceedances
    )


# --- recording -------------------------------------------------------------------------------


def _open_month(month: date, today: date) -> date:
    """The month's first day, or refused when the month is not over yet."""
    first = cycle.first_of(month)
    if not cycle.is_reportable(first, today):
        raise ServiceError(
            _l(
                "%(month)s is not over: its cycle starts on %(day)s, a month to come cannot "
                "be reported.",
                month=_month_words(first),
                day=cycle.next_month(first).isoformat(),
            )
        )
    return first


def _not_yet_done(first: date, step: Step, party: str) -> None:
    done = db.session.scalar(
        sa.select(CycleStep).where(
            CycleStep.month == first, CycleStep.step == step, CycleStep.party == party
        )
    )
    if done is not None:
        raise ServiceError(
            _l(
                "This step of %(month)s was already recorded on %(day)s: a step is done once.",
                month=_month_words(first),
                day=done.done_on.isoformat(),
            )
        )


def report_county(
    county: Grid, month: date, *, by: User | None, today: date, note: str | None = None
) -> CycleStep:
    """The county's office submits its month: its cases and opinions (with their evidence,
    recorded on each disposal) are reported, with the counts shown (RULES §8, by the 5th)."""
    if county.level != 2:
        raise ServiceError(_l("Only a county (a level-2 grid) reports its month."))
    first = _open_month(month, today)
    _not_yet_done(first, Step.COUNTY_REPORT, str(county.id))
    counts = county_counts(first).get(county.id, CountyCounts())
    record = CycleStep(
        month=first,
        step=Step.COUNTY_REPORT,
        party=str(county.id),
        county_id=county.id,
        done_on=today,
        note=note,
        exceedances=counts.exceedances,
        cases=counts.cases,
        opinions=counts.opinions,
        undisposed=counts.undisposed,
        recorded_by_id=_who(by),
    )
    db.session.add(record)
    db.session.flush()
    return record


def record_step(
    step: Step, month: date, *, by: User | None, today: date, note: str | None = None
) -> CycleStep:
    """The detachment's statistics, the centre's compilation or the monthly notice, done."""
    if step not in RECORDED_HERE:
        raise ServiceError(_l("This step is not recorded here."))
    first = _open_month(month, today)
    _not_yet_done(first, step, "")
    return _add_step(first, step, today, by, note)


def _add_step(first: date, step: Step, today: date, by: User | None, note: str | None) -> CycleStep:
    record = CycleStep(
        month=first, step=step, party="", done_on=today, note=note, recorded_by_id=_who(by)
    )
    db.session.add(record)
    db.session.flush()
    return record


@dataclass(frozen=True)
class MinutesFields:
    summary: str
    conclusions: str
    county_cases: str | None = None
    escalations: str | None = None
    accountability: str | None = None


def record_minutes(
    month: date,
    fields: MinutesFields,
    *,
    escalated: Iterable[int] = (),
    difficult: Iterable[int] = (),
    by: User | None,
    today: date,
) -> ReviewMinutes:
    """The review meeting held today: its minutes, and the month's enterprises without a case
    turned into clues, with the meeting's flags (escalated, difficult: source ids)."""
    first = _open_month(month, today)
    if not fields.summary.strip():
        raise ServiceError(_l("The minutes need the monthly summary."))
    if not fields.conclusions.strip():
        raise ServiceError(
            _l("The minutes need the meeting's conclusions on the enterprises without a case.")
        )
    _not_yet_done(first, Step.REVIEW_MEETING, "")
    candidates = {u.source_id: u for u in uncased(first)}
    flagged = set(escalated) | set(difficult)
    strangers = flagged - set(candidates)
    if strangers:
        raise ServiceError(
            _l("Only the month's enterprises without a case can be escalated or marked difficult.")
        )
    minutes = ReviewMinutes(
        month=first,
        met_on=today,
        summary=fields.summary,
        county_cases=fields.county_cases,
        conclusions=fields.conclusions,
        escalations=fields.escalations,
        accountability=fields.accountability,
        recorded_by_id=_who(by),
    )
    db.session.add(minutes)
    escalated, difficult = set(escalated), set(difficult)
    for source_id, found in candidates.items():
        db.session.add(
            CycleClue(
                month=first,
                source_id=source_id,
                county_id=found.county_id,
                exceedances=found.exceedances,
                escalated=source_id in escalated,
                key_polluter=found.key_polluter,
                difficult=source_id in difficult,
            )
        )
    _add_step(first, Step.REVIEW_MEETING, today, by, None)
    return minutes


def make_handover(month: date, *, by: User | None, today: date) -> list[CycleClue]:
    """The centre turns the meeting's clues into the handover list: the detachment keeps about
    30% (enforce.exceed.cycle.detachment_keeps), the counties get the rest."""
    first = _open_month(month, today)
    if db.session.scalar(sa.select(ReviewMinutes.id).where(ReviewMinutes.month == first)) is None:
        raise ServiceError(
            _l("Record the review meeting's minutes first: the clues come from its conclusions.")
        )
    _not_yet_done(first, Step.CLUE_HANDOVER, "")
    clues = list(db.session.scalars(sa.select(CycleClue).where(CycleClue.month == first)))
    kept = cycle.detachment_keeps([_as_clue(c) for c in clues])
    for clue in clues:
        clue.kept = clue.source_id in kept
    _add_step(first, Step.CLUE_HANDOVER, today, by, None)
    return clues_of(first)
