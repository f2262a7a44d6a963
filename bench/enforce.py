"""Enforcement: a year's double-random draw over the Changji ledger (bench/enforce_draws.py)
and the daily exceedance computation over 500 enterprises' minute data
(bench/enforce_exceed.py), each with its time; and the anonymiser of typical cases
(bench/enforce_cases.py)."""

from bench import enforce_cases, enforce_draws, enforce_exceed
from bench.common import Context

HEADING = "## Enforcement: draws and exceedances"


def run(ctx: Context) -> str:
    return "\n\n".join(
        [
            HEADING,
            enforce_draws.section(ctx),
            enforce_exceed.section(ctx),
            enforce_cases.section(ctx),
        ]
    )
