"""The exceedance workflow's background work: each morning, yesterday's exceedances computed
for the centre's screening (enforce.exceed.services.compute_day; run again by hand with
`flask enforce exceedances --day`)."""

import logging
from datetime import timedelta

from huey import crontab

from enforce.exceed import services
from extensions import periodic_task
from grid.forms import unit_of_work
from grid.time import local_today

log = logging.getLogger(__name__)


# huey's schedule is in UTC: 22:30 UTC is 06:30 in China Standard Time, before the office opens.
@periodic_task(crontab(minute="30", hour="22"))
def compute_yesterday() -> int:
    """Yesterday's (local) exceedances at every monitoring point."""
    day = local_today() - timedelta(days=1)
    with unit_of_work():
        done = services.compute_day(day)
    log.info(
        "exceedances of %s: %d points, %d exceedances, %d invalid hours",
        day,
        done.points,
        done.valid,
        done.invalid,
    )
    return done.valid
