"""Run the benchmarks and write docs/benchmarks.md.

python -m bench             every benchmark in BENCHMARKS, in order
python -m bench locate      only those named: their sections replace theirs in the report, the
                            others are kept as they were
python -m bench soak        load and faults on the deployed stack (`make soak`), alone: never
                            part of the full run; it writes docs/reliability.md
"""

import importlib
import os
import re
import sys
import time
from datetime import datetime

from bench.common import (
    ROOT,
    Context,
    cpu_model,
    git_revision,
    load_average,
    machine_markdown,
)

# Module names under bench/, in the order they run and report. Each exposes run(ctx) -> str (a
# Markdown section). `compare` counts on copies of the demo databases before `writes` and
# `problems` add their rows to them; `writes` runs before `problems` adds its 50,000 problems to
# this code's database only (the code before a change has no such rows in its own). `assess`
# writes a year on top of the PostGIS demo database, last.
BENCHMARKS = (
    "locate",
    "http",
    "photos",
    "sync",
    "compare",
    "writes",
    "problems",
    "lighthouse",
    "alerts",
    "assess",
    "enforce",
)

# Run only when named, alone, each writing a report of its own: module name -> what it is.
STANDALONE = {"soak": "load and faults on the deployed stack (docs/reliability.md)"}

REPORT = ROOT / "docs" / "benchmarks.md"

INTRO = """\
# Benchmarks

Written by `make bench` (`python -m bench [name ...]`); run on demand, never by the tests.
Every ratio compares figures measured side by side in the same run on the machine below, so
figures from different runs or machines are not comparable. The load generators (wrk; locust for
the writes) run on the same machine as the servers and share its cores.
"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["hj212-soak"]:  # a run of its own, not a section of docs/benchmarks.md
        return importlib.import_module("bench.soak_hj212").main(argv[1:])
    if argv[:1] and argv[0] in STANDALONE:  # alone, never part of the full run
        if len(argv) != 1:
            print(f"{argv[0]} runs alone: python -m bench {argv[0]}")
            return 2
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        importlib.import_module(f"bench.{argv[0]}").run()
        return 0
    unknown = [n for n in argv if n not in BENCHMARKS]
    if unknown:
        known = ", ".join((*BENCHMARKS, *STANDALONE))
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {known}")
        return 2
    names = [n for n in BENCHMARKS if n in argv] if argv else list(BENCHMARKS)  # report order
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    started, load_before = datetime.now().astimezone(), load_average()
    sections = []
    ctx = Context.from_environment()
    try:
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr)
            t0 = time.perf_counter()
            module = importlib.import_module(f"bench.{name}")
            sections.append(module.run(ctx).strip())
            print(f"bench: {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        ctx.close()
    if names != list(BENCHMARKS) and REPORT.exists():
        note = rerun_note(started)
        fresh = {
            name: _with_note(section, note) for name, section in zip(names, sections, strict=True)
        }
        text = merged(REPORT.read_text(encoding="utf-8"), fresh)
    else:
        machine = machine_markdown(started, datetime.now().astimezone(), load_before)
        text = "\n\n".join(s.strip() for s in [INTRO, machine, *sections])
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text.strip() + "\n", encoding="utf-8")
    print(f"bench: wrote {REPORT.relative_to(ROOT)}", file=sys.stderr)
    return 0


def rerun_note(started: datetime) -> str:
    """Where and when a section run alone was measured (the machine above is the full run's)."""
    return (
        f"*Run alone on {started:%Y-%m-%d %H:%M %Z}: {cpu_model()}, {os.cpu_count()} logical "
        f"cores, git {git_revision()} (the machine above is that of the last full run).*"
    )


def _with_note(section: str, note: str) -> str:
    heading, _, rest = section.strip().partition("\n")
    return f"{heading}\n\n{note}\n{rest}"


def merged(report: str, fresh: dict[str, str]) -> str:
    """The report with the sections of the benchmarks in `fresh` (name -> section) replaced, or
    added in BENCHMARKS' order; the others, the introduction and the machine kept as they were.
    A section is a "## " heading naming `bench/<name>.py` and what follows it up to the next
    one."""
    parts = re.split(r"(?m)^(?=## )", report)
    head, kept = parts[0], {}
    for part in parts[1:]:
        found = re.match(r"## .*\(`bench/(\w+)\.py`\)", part)
        kept[found.group(1) if found else part] = part.strip()
    kept.update({name: section.strip() for name, section in fresh.items()})
    order = {name: n for n, name in enumerate(BENCHMARKS)}
    names = sorted(kept, key=lambda name: order.get(name, len(order)))
    return "\n\n".join([head.strip(), *(kept[name] for name in names)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
