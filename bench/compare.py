"""The code before a change against the code after it, in CPU instructions per request or action
(bench/scenarios.py under valgrind's callgrind), with `make bench BEFORE=<git revision>`.

Wall-clock comparisons on this machine move by ten percent from one run to the next (two
servers taking turns on two shared cores); an instruction count does not, so this is where
"nothing got slower" is decided. The wall-clock figures of the other sections show the same
comparison in seconds.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import PYTHON, ROOT, Context, median, met, table
from bench.scenarios import SCENARIOS, TIMES

REPEATS = 2  # runs of each checkout, alternating
ALLOWANCE = 0.03  # the largest difference seen between two runs of the same code (I/O paths)
VALGRIND = shutil.which("valgrind")


def _count(ctx: Context, root: Path, database_url: str) -> dict[str, float]:
    """Instructions per operation of every scenario, in one run of the checkout at `root` on a
    copy of its demo database."""
    work = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-callgrind-"))
    try:
        source = Path(database_url.removeprefix("sqlite:///"))
        copy = work / "demo.db"
        shutil.copyfile(source, copy)
        # Run from the scratch folder: bench/ on the path would shadow the standard library
        # (bench/http.py), and the code measured is the checkout's, through PYTHONPATH.
        script = shutil.copy(ROOT / "bench" / "scenarios.py", work / "scenarios.py")
        done = subprocess.run(
            [
                VALGRIND,
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={work / 'cg.out'}",
                PYTHON,
                str(script),
                f"sqlite:///{copy}",
            ],
            cwd=root,
            env=ctx.env(f"sqlite:///{copy}", root),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scenarios failed in {root}:\n{done.stderr[-3000:]}")
        counts = {}
        for dump in work.glob("cg.out.*"):
            text = dump.read_text(errors="replace")
            key = re.search(r"^desc: Trigger: dump (\S+)", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if key and total and key.group(1) in TIMES:
                counts[key.group(1)] = int(total.group(1)) / TIMES[key.group(1)]
        missing = set(TIMES) - set(counts)
        if missing:
            raise RuntimeError(f"no count for {sorted(missing)} in {root}")
        return counts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(ctx: Context) -> str:
    if ctx.before_root is None:
        return """\
## Before and after a change (`bench/compare.py`)

Not run: `make bench BEFORE=<git revision>` measures the code of that revision beside this one.
"""
    if VALGRIND is None:
        return """\
## Before and after a change (`bench/compare.py`)

Not run: valgrind is not installed (Debian: `apt-get install valgrind`).
"""
    runs: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
    for n in range(REPEATS):
        order = ["before", "now"] if n % 2 == 0 else ["now", "before"]
        for which in order:
            if which == "now":
                runs["now"].append(_count(ctx, ROOT, ctx.sqlite_url))
            else:
                runs["before"].append(_count(ctx, ctx.before_root, ctx.before_sqlite_url))
    rows, worst, spread = [], 0.0, 0.0
    for key, what, times in SCENARIOS:
        before = median([r[key] for r in runs["before"]])
        now = median([r[key] for r in runs["now"]])
        ratio = now / before
        worst = max(worst, ratio)
        for series in runs.values():
            values = [r[key] for r in series]
            spread = max(spread, (max(values) - min(values)) / min(values))
        rows.append((what, str(times), f"{before / 1e6:.2f}", f"{now / 1e6:.2f}", f"{ratio:.1%}"))
    label = ctx.before_label()
    header = ("Scenario", "Times", f"M instructions each, {label}", "now", "now / before")
    return f"""\
## Before and after a change (`bench/compare.py`)

The code of {label} and this code, each on a demo database of its own (made by its own
migrations and demo loader, SpatiaLite), doing the same things through the same URLs and
functions (`bench/scenarios.py`), counted in CPU instructions by valgrind's callgrind: each
scenario warmed up, then counted alone. {REPEATS} runs of each checkout, alternating; medians.
The same code counts the same to within {spread:.1%} from run to run here (the database's I/O
paths), where its wall-clock time varies by ten percent.

{table(header, rows)}

| Target | Measured | |
| --- | --- | --- |
| nothing slower than {label}: every scenario within {ALLOWANCE:.0%} of it | worst {worst:.1%} | \
{met(worst <= 1 + ALLOWANCE)} |
"""
