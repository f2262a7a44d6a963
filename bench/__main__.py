"""Run the benchmarks and write docs/benchmarks.md.

python -m bench             every benchmark in BENCHMARKS, in order
python -m bench locate      only those named
"""

import importlib
import sys
import time
from datetime import datetime

from bench.common import ROOT, Context, load_average, machine_markdown

# Module names under bench/, in the order they run and report. Each exposes run(ctx) -> str (a
# Markdown section). `compare` counts on copies of the demo databases before `writes` and
# `problems` add their rows to them; `writes` runs before `problems` adds its 50,000 problems to
# this code's database only (the code before a change has no such rows in its own).
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
)

REPORT = ROOT / "docs" / "benchmarks.md"

INTRO = """\
# Benchmarks

Written by `make bench` (`python -m bench [name ...]`); run on demand, never by the tests.
Every ratio compares figures measured side by side in the same run on the machine below, so
figures from different runs or machines are not comparable. The load generators (wrk; locust for
the writes) run on the same machine as the servers and share its cores.
"""


def main(argv: list[str]) -> int:
    unknown = [n for n in argv if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
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
    header = [INTRO, machine_markdown(started, datetime.now().astimezone(), load_before)]
    if names != list(BENCHMARKS):
        header.append(f"Only these benchmarks were run: {', '.join(names)}.")
    sections = header + sections
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n\n".join(s.strip() for s in sections) + "\n", encoding="utf-8")
    print(f"bench: wrote {REPORT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
