"""Demo problems: a handful in the demo supervisor's village, each at another step of the
workflow, so that every demo log-in finds something waiting (fictional, like all demo data).

They are made the way people make them, through problems/services.py, one event at a time, so
their timelines and event chains are real ones.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image, ImageDraw

from evidence.services import photo_store
from extensions import db
from grid import queries as grid_queries
from grid.models import Grid, User, point
from grid.time import local_today, utcnow
from problems import services as problems
from problems.escalation import Capacity, State
from problems.models import Problem

DEMO_TOWN = "652301101000"  # 三工镇; its first village is `cun`'s


@dataclass(frozen=True)
class Story:
    category: str
    severity: str
    description: str
    steps: tuple[tuple[str, str], ...]  # (who, event)


STORIES = (
    Story(
        "dust", "moderate", "建筑工地裸土未苫盖,车辆出入未冲洗(演示数据)", (("cun", "escalate"),)
    ),
    Story(
        "straw_burning",
        "serious",
        "农田露天焚烧秸秆,烟雾较大(演示数据)",
        (("cun", "escalate"), ("sangong", "approve")),
    ),
    Story(
        "scattered_polluting",
        "moderate",
        "无证彩钢加工点露天喷漆(演示数据)",
        (("cun", "escalate"), ("sangong", "approve"), ("changji", "assign")),
    ),
    Story(
        "coal_boiler",
        "moderate",
        "燃煤锅炉冒黑烟,无除尘设施(演示数据)",
        (("cun", "escalate"), ("sangong", "approve"), ("changji", "assign"), ("zhifa", "submit")),
    ),
    Story("dust", "minor", "道路遗撒,已督促清扫(演示数据)", (("cun", "resolve"),)),
)


def after_photo(seed: int) -> bytes:
    """A plain picture standing in for a photo of the place afterwards."""
    image = Image.new("RGB", (640, 480), (120 + seed * 20 % 100, 150, 110))
    draw = ImageDraw.Draw(image)
    for i in range(0, 640, 40):
        draw.line([(i, 0), (640 - i, 480)], fill=(40 + i % 200, 90, 60), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def load(echo: Callable[[str], None] = print) -> str:
    """Add the demo problems in the current transaction; the caller commits."""
    town = grid_queries.grid_by_code(DEMO_TOWN)
    users = {
        u.username: u
        for u in db.session.scalars(
            sa.select(User).where(User.username.in_(["cun", "sangong", "changji", "zhifa"]))
        )
    }
    if town is None or len(users) < 4:
        return "Problems: none (the demo's township or people are missing)."
    village = grid_queries.children(town)[0]
    shape = grid_queries.grid_shape(village)
    centre = shape.representative_point()
    store = photo_store()
    for n, story in enumerate(STORIES):
        problem = Problem(
            origin="patrol",
            reporter_id=users["cun"].id,
            grid_id=village.id,
            found_at=utcnow() - timedelta(hours=len(STORIES) - n),
            location=point(centre.x + 0.0004 * n, centre.y),
            category=story.category,
            severity=story.severity,
            description=story.description,
        )
        db.session.add(problem)
        db.session.flush()
        problems.start(problem, State.VILLAGE, users["cun"], Capacity.VILLAGE)
        for who, event in story.steps:
            needs_photo = event in ("resolve", "submit")
            problems.act(
                problem,
                users[who],
                problems.Act(
                    event=event,
                    version=problem.version,
                    comment="演示:已处理" if event in ("resolve", "submit") else "",
                    assignee_login="zhifa" if event == "assign" else "",
                    due_date=local_today() + timedelta(days=7) if event == "assign" else None,
                    photos=[after_photo(n)] if needs_photo else [],
                ),
                store,
            )
    db.session.flush()
    counts = db.session.execute(
        sa.select(Problem.state, sa.func.count())
        .join(Grid, Grid.id == Problem.grid_id)
        .where(Grid.id == village.id)
        .group_by(Problem.state)
    ).all()
    echo("problems: " + ", ".join(f"{state} {count}" for state, count in sorted(counts)))
    return f"Problems: {len(STORIES)} fictional ones in {village.name}, at each step."
