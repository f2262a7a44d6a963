"""Gathering a month's facts for every county at once (assess/facts.py `gather`): items 5 and 6
are counted for all counties in one query each (problems/queries.py), so the statements a
month takes do not grow with the number of counties (no N+1)."""

from datetime import datetime, time, timedelta

from assess import facts, services
from assess.desktop import counting_statements
from assess.models import RecordKind
from evidence.services import photo_store
from extensions import db
from grid.models import point
from grid.time import local_today, local_zone, now_local, to_utc
from problems import queries as problem_queries
from problems import services as problem_services
from problems.escalation import Capacity, State
from problems.findings import MISSED
from problems.models import Problem
from tests import factories
from tests.test_assess import finding


def last_month():
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def at(day, hour):
    """Local `hour` o'clock of `day`, as the workflow's clock takes it."""
    return datetime.combine(day, time(hour), tzinfo=local_zone())


def act(problem, user, event, now, **fields):
    action = problem_services.Act(event=event, version=problem.version, **fields)
    problem_services.act(problem, user, action, photo_store(), now=now)


def approved(world, day):
    """A problem reported, escalated and approved up to the county on `day` (a deadline of one
    working day for the county to assign it)."""
    lon, lat = world.inside()
    problem = Problem(
        origin="patrol",
        reporter_id=world.supervisor.id,
        grid_id=world.village.id,
        found_at=to_utc(at(day, 8)),
        location=point(lon, lat),
        category="dust",
        severity="moderate",
        description="测试问题:工地裸土未苫盖",
    )
    db.session.add(problem)
    db.session.flush()
    problem_services.start(
        problem, State.VILLAGE, world.supervisor, Capacity.VILLAGE, now=at(day, 8)
    )
    act(problem, world.supervisor, "escalate", at(day, 9))
    act(problem, world.township_head, "approve", at(day, 10))
    return problem


def assigned_late(world, day):
    """Approved on `day`, assigned a week later: one late assignment (scoring item 5)."""
    problem = approved(world, day)
    later = day + timedelta(days=7)
    act(
        problem,
        world.county_office,
        "assign",
        at(later, 10),
        assignee_department="测试执法大队",
        due_date=later + timedelta(days=10),
    )
    return problem


def failing_rechecks(world, day, failures):
    """Approved and assigned on time on `day`, then its rectification re-checked and failed
    `failures` times (scoring item 6)."""
    problem = approved(world, day)
    due = day + timedelta(days=20)
    act(
        problem,
        world.county_office,
        "assign",
        at(day, 11),
        assignee_department="测试",
        due_date=due,
    )
    for n in range(failures):
        submitted = day + timedelta(days=1 + 2 * n)
        act(
            problem,
            world.county_office,
            "submit",
            at(submitted, 10),
            comment="已整改",
            photos=[factories.jpeg(n)],
        )
        act(
            problem,
            world.county_office,
            "recheck_fail",
            at(submitted, 15),
            comment="仍有裸土",
            due_date=due,
        )
    return problem


def month_data(world, first, late, failures):
    """`late` late assignments and `failures` failed re-checks in the county's month."""
    for _ in range(late):
        assigned_late(world, first + timedelta(days=2))
    if failures:
        failing_rechecks(world, first + timedelta(days=3), failures)


def every_kind_of_fact(world, first):
    """A month of the county with a fact of every kind gathered: a late assignment, a failed
    re-check, a missed and a media finding, an overdue inspection item, a bonus, an auto-fail."""
    month_data(world, first, late=1, failures=1)
    for kind, level, decision in (("inspection", None, MISSED), ("media", "region", MISSED)):
        finding(world, first + timedelta(days=5), decision, kind, level)
    due = first + timedelta(days=10)
    services.record(world.county, RecordKind.INSPECTION, "督察问题", by=None, due_on=due)
    services.record(world.county, RecordKind.BONUS, "主动发现重大问题", by=None, month=first)
    services.record(world.county, RecordKind.AUTO_FAIL, "同一投诉三次未解决", by=None, month=first)


def test_items_5_and_6_are_counted_per_county(make_world):
    first = last_month()
    one, two, three = make_world(villages=1), make_world(villages=1), make_world(villages=1)
    month_data(one, first, late=1, failures=2)
    month_data(two, first, late=2, failures=0)
    month_data(three, (first - timedelta(days=1)).replace(day=1), late=1, failures=1)  # before
    start, end = facts.utc_bounds(first)
    late = problem_queries.late_assignment_counts(start, end)
    failed = problem_queries.failed_rechecks_counts(start, end)
    counties = (one.county.id, two.county.id, three.county.id)
    assert [late.get(c, 0) for c in counties] == [1, 2, 0]
    assert [failed.get(c, 0) for c in counties] == [2, 0, 0]
    # One county at a time gives the same (the functions other code calls).
    assert [problem_queries.late_assignments(c, start, end) for c in counties] == [1, 2, 0]
    assert [problem_queries.failed_rechecks(c, start, end) for c in counties] == [2, 0, 0]
    gathered = {m.county.id: m.facts for m in facts.gather(first.year, first.month)}
    found = [(gathered[c].unassigned_reports, gathered[c].poor_rectifications) for c in counties]
    assert found == [(1, 2), (2, 0), (0, 0)]


def test_a_deadline_missed_and_the_late_assignment_after_it_count_once(make_world):
    """The deadline sweep records the county's missed day (stamped when it runs, this month);
    the assignment that follows is marked late too: one problem, counted once."""
    world = make_world(villages=1)
    problem = approved(world, local_today() - timedelta(days=15))  # past any holiday
    assert problem_services.check_deadlines() >= 1
    this_month = facts.utc_bounds(local_today().replace(day=1))
    assert problem_queries.late_assignment_counts(*this_month).get(world.county.id) == 1
    act(
        problem,
        world.county_office,
        "assign",
        now_local(),
        assignee_department="测试执法大队",
        due_date=local_today() + timedelta(days=10),
    )
    assert problem_queries.late_assignment_counts(*this_month).get(world.county.id) == 1


def statements_of_gather(first):
    db.session.flush()
    db.session.expunge_all()  # nothing answered from the identity map
    with counting_statements() as sent:
        months = facts.gather(first.year, first.month)
    return len(sent), len(months)


def test_gathering_a_month_takes_as_many_statements_whatever_the_number_of_counties(make_world):
    first = last_month()
    every_kind_of_fact(make_world(villages=1), first)
    few, counties_before = statements_of_gather(first)
    for _ in range(3):  # three more counties, each with every kind of fact
        every_kind_of_fact(make_world(villages=2), first)
    many, counties_after = statements_of_gather(first)
    assert counties_after == counties_before + 3
    assert many == few, (
        f"{few} statements for {counties_before} counties, {many} for {counties_after}"
    )
