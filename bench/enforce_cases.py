"""Part of the enforcement benchmarks: how long a typical case takes to anonymise.

On the SpatiaLite demo database: the names the app knows that occur in a case of about 1,400
characters (every user, source, source contact and complainant read and looked for), then the
anonymiser over the text; and the anonymiser alone against 20,000 known names (a province's
ledger), of which a few occur. Median of the runs; nothing is written."""

import statistics
import time

import sqlalchemy as sa

from bench.common import Context, table
from enforce.cases import anonymise, demo, services
from extensions import db
from grid.models import User
from problems.models import Problem
from sources.models import Source

RUNS = 20
MANY = 20_000


def _text() -> str:
    problem = db.session.scalar(sa.select(Problem).order_by(Problem.id).limit(1))
    reporter = db.session.scalar(sa.select(User.name).order_by(User.id).limit(1)) or "李建华"
    if problem is None:
        return "".join(demo.PARAGRAPHS)
    return demo.case_text(problem, reporter, demo.MANAGER)


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def section(ctx: Context) -> str:
    app = ctx.app(ctx.sqlite_url)
    with app.app_context():
        text = _text()
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        sources = db.session.scalar(sa.select(sa.func.count()).select_from(Source))
        names = [_timed(lambda: services.known_names(text)) for _ in range(RUNS)]
        known = services.known_names(text)
        finding = [_timed(lambda: anonymise.anonymise(text, known)) for _ in range(RUNS)]
        db.session.remove()
    many = [(f"测试人员{i:05d}", anonymise.PERSON) for i in range(MANY)] + known
    alone = [_timed(lambda: anonymise.anonymise(text, many)) for _ in range(RUNS)]
    found = len(anonymise.find(text, known))
    rows = [
        ("names the app knows, looked for", f"{statistics.median(names) * 1000:.1f} ms"),
        ("anonymiser over the case", f"{statistics.median(finding) * 1000:.2f} ms"),
        (f"anonymiser against {MANY:,} names", f"{statistics.median(alone) * 1000:.1f} ms"),
    ]
    return "\n\n".join(
        [
            "### Typical cases: anonymising one case",
            f"SpatiaLite demo database: {users} users and {sources} sources; a demo case of "
            f"{anonymise.counted_length(text)} characters, {found} replacements. Median of "
            f"{RUNS} runs.",
            table(("part", "time"), rows),
        ]
    )
