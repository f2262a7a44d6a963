"""Test data made on purpose: a grid with its people, a source, a patrol, a photo, a problem at a
given step of the workflow. New tests build what they need with these (through the conftest
fixtures `make_world`, `make_source`, `make_patrol`, `make_photo`, `make_problem`) rather than
leaning on the demo's seed or writing their own helpers.

Everything goes through the real services where one exists (the ledger, the workflow, the photo
pipeline), so what a factory makes is what a person would have made; the test's transaction
rolls it all back.
"""

import io
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from PIL import Image
from shapely.geometry import box

from alerts import services as alert_services
from alerts.models import Station
from evidence import services as evidence
from evidence.models import Photo
from extensions import db
from grid import services as grid_services
from grid.models import Grid, GridKind, Role, User, point
from grid.queries import root_grid
from grid.time import local_today, utcnow
from patrol.models import Patrol, Visit
from problems import services as workflow
from problems.escalation import Capacity, State
from problems.models import Problem
from sources import services as ledger
from sources.models import Source

PASSWORD = "factory-pass-1"
_serial = itertools.count(1)

# Each world gets its own square far from Changji, so that point -> grid never meets the demo:
# a sheet of 40 columns east of longitude 100 and 200 rows north of latitude 20. The squares
# are counted apart from the people (a full run makes tens of thousands of those), and wrap
# round the sheet: every test's records are rolled back, so a square comes free again long
# before it is reused.
_SIDE = 0.2  # degrees
_COLUMNS, _ROWS = 40, 200
_squares = itertools.count(0)


@dataclass
class World:
    """A county with one township and its villages, and a person in every post that acts on a
    problem: the first village's supervisor and head, the township head, the county office."""

    root: Grid
    county: Grid
    township: Grid
    villages: list[Grid]
    supervisor: User
    village_head: User
    township_head: User
    county_office: User
    others: dict[str, User] = field(default_factory=dict)

    @property
    def village(self) -> Grid:
        return self.villages[0]

    def inside(self, index: int = 0) -> tuple[float, float]:
        """(lon, lat) well inside village `index`."""
        village = self.villages[index]
        return village_centre(village)


_centres: dict[int, tuple[float, float]] = {}


def village_centre(village: Grid) -> tuple[float, float]:
    return _centres[village.id]


def person(role_name: str) -> User:
    n = next(_serial)
    return grid_services.create_user(f"f{n}-{role_name}", f"测试{role_name}{n}", PASSWORD)


def make_world(villages: int = 2, started_on: date | None = None) -> World:
    """A fresh county (under the existing root, or a new one) with a township and `villages`
    villages tiling a square, each with synthetic boundaries, and the people of the loop."""
    started_on = started_on or local_today() - timedelta(days=30)
    n = next(_serial)
    slot = next(_squares) % (_COLUMNS * _ROWS)
    west = 100.0 + (slot % _COLUMNS) * _SIDE * 1.5
    south = 20.0 + (slot // _COLUMNS) * _SIDE * 1.5
    square = box(west, south, west + _SIDE, south + _SIDE)
    root = root_grid() or grid_services.add_grid("测试州", GridKind.PREFECTURE, None)
    county = grid_services.add_grid(
        f"测试县{n}", GridKind.COUNTY, root, geom=square, source="synthetic"
    )
    township = grid_services.add_grid(
        f"测试镇{n}", GridKind.TOWNSHIP, county, geom=square, source="synthetic"
    )
    width = _SIDE / villages
    made = []
    for i in range(villages):
        cell = box(west + i * width, south, west + (i + 1) * width, south + _SIDE)
        village = grid_services.add_grid(
            f"测试村{n}-{i + 1}", GridKind.VILLAGE, township, geom=cell, source="synthetic"
        )
        _centres[village.id] = (cell.centroid.x, cell.centroid.y)
        made.append(village)
    world = World(
        root=root,
        county=county,
        township=township,
        villages=made,
        supervisor=person("supervisor"),
        village_head=person("village-head"),
        township_head=person("township-head"),
        county_office=person("county-office"),
    )
    grid_services.appoint(world.supervisor, made[0], Role.SUPERVISOR, started_on, full_time=True)
    grid_services.appoint(world.village_head, made[0], Role.HEAD, started_on)
    grid_services.appoint(world.township_head, township, Role.HEAD, started_on)
    grid_services.appoint(world.county_office, county, Role.OFFICE, started_on)
    db.session.flush()
    return world


def staff_county(world: World, since: date) -> World:
    """Items 1-3 of the monthly assessment in place from `since`: the county's head (the
    world has its office), a county sub-grid head over the township and a township one over
    every village."""
    grid_services.appoint(person("county-head"), world.county, Role.HEAD, since)
    grid_services.appoint(
        person("county-subhead"), world.county, Role.SUBHEAD, since, covers=[world.township]
    )
    grid_services.appoint(
        person("town-subhead"), world.township, Role.SUBHEAD, since, covers=world.villages
    )
    return world


def make_source(world: World, village: int = 0, **fields) -> Source:
    """A source in the county's ledger, placed in village `village` (through the ledger)."""
    lon, lat = world.inside(village)
    values = {"name": f"测试污染源{next(_serial)}", "kind": "industrial", "lon": lon, "lat": lat}
    values.update(fields)
    return ledger.create_source(world.county, ledger.SourceFields(**values), by=world.county_office)


def make_patrol(world: World, sources=(), ended: bool = True) -> Patrol:
    """A patrol of the first village by its supervisor, visiting `sources` (normal visits)."""
    now = utcnow()
    lon, lat = world.inside()
    patrol = Patrol(
        client_id=str(uuid.uuid4()),
        supervisor_id=world.supervisor.id,
        grid_id=world.village.id,
        started_at=now - timedelta(hours=1),
        ended_at=now if ended else None,
    )
    db.session.add(patrol)
    db.session.flush()
    for source in sources:
        db.session.add(
            Visit(
                client_id=str(uuid.uuid4()),
                patrol_id=patrol.id,
                source_id=source.id,
                visited_at=now - timedelta(minutes=30),
                visited_on=local_today(),
                outcome="normal",
            )
        )
    db.session.flush()
    return patrol


def visits_of(patrol: Patrol) -> list[int]:
    """The ids of a patrol's visits, in the order they were made."""
    return list(
        db.session.scalars(
            sa.select(Visit.id).where(Visit.patrol_id == patrol.id).order_by(Visit.id)
        )
    )


def jpeg(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG that differs by `seed` (so that no two are duplicates)."""
    image = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    for x in range(0, size[0], 8):
        image.putpixel((x, (x * seed) % size[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def make_photo(world: World, links, owner_id: int, seed: int | None = None, **extra) -> Photo:
    """A photo through the real pipeline, kept and linked to a record (`links`: its link
    table, such as patrol.models.visit_photo)."""
    seed = next(_serial) if seed is None else seed
    moment = evidence.capture(world.village, world.supervisor.name, utcnow(), fix=None)
    result = evidence.process(jpeg(seed), moment)
    photo = evidence.keep(
        evidence.photo_store(),
        result,
        grid_id=world.village.id,
        uploaded_by_id=world.supervisor.id,
        captured_at=utcnow(),
    )
    evidence.attach(links, owner_id, photo, **extra)
    return photo


# The steps from the village to each state, and who takes them (RULES §3).
_PATH = {
    State.VILLAGE: [],
    State.TOWNSHIP: [("supervisor", "escalate", {})],
    State.COUNTY: [("supervisor", "escalate", {}), ("township_head", "approve", {})],
    State.RECTIFYING: [
        ("supervisor", "escalate", {}),
        ("township_head", "approve", {}),
        ("county_office", "assign", {"assignee_department": "测试执法大队", "due": 7}),
    ],
    State.RECHECKING: [
        ("supervisor", "escalate", {}),
        ("township_head", "approve", {}),
        ("county_office", "assign", {"assignee_department": "测试执法大队", "due": 7}),
        ("county_office", "submit", {"comment": "已整改", "photos": 1}),
    ],
    State.CLOSED: [
        ("supervisor", "escalate", {}),
        ("township_head", "approve", {}),
        ("county_office", "assign", {"assignee_department": "测试执法大队", "due": 7}),
        ("county_office", "submit", {"comment": "已整改", "photos": 1}),
        ("county_office", "recheck_pass", {}),
    ],
    State.RESOLVED: [("supervisor", "resolve", {"comment": "当场制止", "photos": 1})],
}


def make_problem(world: World, state: State = State.VILLAGE, **fields) -> Problem:
    """A problem the village supervisor found, taken through the real workflow (each step an
    event of its chain) to `state`."""
    lon, lat = world.inside()
    values = {
        "origin": "patrol",
        "reporter_id": world.supervisor.id,
        "grid_id": world.village.id,
        "found_at": utcnow(),
        "location": point(lon, lat),
        "category": "dust",
        "severity": "moderate",
        "description": "测试问题:工地裸土未苫盖",
    }
    values.update(fields)
    problem = Problem(**values)
    db.session.add(problem)
    db.session.flush()
    workflow.start(problem, State.VILLAGE, world.supervisor, Capacity.VILLAGE)
    for who, event, extra in _PATH[State(state)]:
        options = dict(extra)
        due = options.pop("due", None)
        photos = [jpeg(next(_serial)) for _ in range(options.pop("photos", 0))]
        action = workflow.Act(
            event=event,
            version=problem.version,
            due_date=local_today() + timedelta(days=due) if due else None,
            photos=photos,
            **options,
        )
        workflow.act(problem, getattr(world, who), action, evidence.photo_store())
    assert problem.state == State(state), (problem.state, state)
    return problem


def make_station(world: World, village: int = 0, **fields) -> tuple[Station, str]:
    """A micro-station inside village `village`, with an HTTP token (returned) and an HJ 212
    MN and password (the password is "123456")."""
    n = next(_serial)
    lon, lat = world.inside(village)
    made = alert_services.add_station(
        code=fields.pop("code", f"T{n:05d}"),
        name=fields.pop("name", f"测试微站{n}"),
        kind=fields.pop("kind", "micro"),
        lon=lon,
        lat=lat,
        mn=fields.pop("mn", f"MN{n:022d}"),
        password=fields.pop("password", "123456"),
        issue_token=True,
        **fields,
    )
    return made.station, made.token
