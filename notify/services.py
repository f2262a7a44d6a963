"""One way to tell people something needs them: an in-app notification, delivered too on the
channels each person chose (Web Push to their browsers, SMS), by tasks that run once the
transaction commits; and messages to a county's group robots (WeCom, DingTalk). Services flush;
callers commit.

Another domain tells people with `notify(user_ids, kind, subject, message, params)`; an alert
with a deadline passes it in `params` as ISO 8601 (UTC), e.g.
`{"id": alert.id, "deadline": alert.due_at.isoformat()}`: the push then says it, and stays on
the screen until touched (kinds "alert.*" stay too). A message for a county's WeCom/DingTalk
groups goes with `to_group(grid_id, title, lines, mobiles)`.
"""

import functools
import ipaddress
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from extensions import after_commit, db
from grid.errors import ServiceError
from grid.inputs import Invalid
from grid.models import Grid, User
from grid.time import utcnow
from notify import delivery, robots, tasks, webpush
from notify.models import ChannelChoice, Notification, PushSubscription, Robot
from notify.registry import subject_path


def notify(
    user_ids: Iterable[int], kind: str, subject: str, message: str, params: dict | None = None
) -> int:
    """Tell each user (once, whatever the iterable repeats); `message` is an English msgid
    with %(name)s placeholders filled from `params` when shown. Returns how many were told.
    Once the transaction commits, a task delivers the notifications on each person's chosen
    channels (`params["deadline"]`, ISO 8601, is shown with the push)."""
    ids = sorted({uid for uid in user_ids if uid})
    if not ids:
        return 0
    created = utcnow()
    rows = [
        {
            "user_id": uid,
            "kind": kind,
            "subject": subject,
            "message": message,
            "params": dict(params or {}),
            "created_at": created,
        }
        for uid in ids
    ]
    made = list(
        db.session.scalars(
            sa.insert(Notification).returning(Notification.id, sort_by_parameter_order=True),
            rows,
        )
    )
    url = subject_path(subject)  # now, while the registry and a request may be at hand
    after_commit(lambda: tasks.deliver(made, url))
    return len(ids)


def mark_read(user_id: int, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them when `ids` is None)."""
    query = sa.update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    return db.session.execute(query.values(read_at=utcnow())).rowcount or 0


# --- a person's channels ------------------------------------------------------------------------


def choose_channels(user_id: int, web_push: bool, robot: bool, sms: bool) -> ChannelChoice:
    """Keep a person's choice of channels."""
    choice = db.session.get(ChannelChoice, user_id)
    if choice is None:
        choice = ChannelChoice(user_id=user_id)
        db.session.add(choice)
    choice.web_push, choice.robot, choice.sms = web_push, robot, sms
    choice.updated_at = utcnow()
    db.session.flush()
    return choice


def check_push_subscription(data: Any) -> dict[str, Any]:
    """A browser's subscription as webpush.check_subscription reads it, or ValueError; outside
    tests (PUSH_ALLOW_LOOPBACK) the endpoint must be https to a public host: the server posts
    to it, so it must not reach into the server's own network."""
    sub = webpush.check_subscription(data)
    if current_app.config["PUSH_ALLOW_LOOPBACK"]:
        return sub
    parts = urlsplit(sub["endpoint"])
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise ValueError("the endpoint must use https")
    if robots.is_loopback(host) or host.endswith(".localhost") or _private_address(host):
        raise ValueError("the endpoint must be a public push service")
    return sub


def _private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def subscribe(
    user_id: int,
    data: Any,
    user_agent: str = "",
    server_key: str | None = None,
    replaces: str | None = None,
) -> PushSubscription:
    """Keep this browser's push subscription for the user (a device that was someone else's,
    signed in now by this user, becomes theirs), with the VAPID key it was made for: the one
    its browser reports (`server_key`, base64url, which must be one the server keeps), else the
    one recorded before, else, for a new subscription, the current key (the page subscribes with
    it). `replaces`: the endpoint of the user's subscription that this one takes the place of
    (the browser subscribed again with the current key), forgotten."""
    server_key = (server_key or "").rstrip("=") or None
    if server_key is not None and server_key not in delivery.known_vapid_keys():
        raise Invalid(
            "applicationServerKey",
            _l("This browser subscribed with a key the server no longer uses: reload the page."),
        )
    try:
        sub = check_push_subscription(data)
    except ValueError as exc:
        raise Invalid(
            "endpoint",
            _l(
                "%(field)s cannot be used: %(reason)s",
                field=_l("Push subscription"),
                reason=str(exc),
            ),
        ) from None
    row = db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.endpoint == sub["endpoint"])
    )
    if row is None:
        row = PushSubscription(endpoint=sub["endpoint"], created_at=utcnow())
        row.vapid_public = delivery.vapid_keys().application_server_key
        db.session.add(row)
    row.user_id = user_id
    row.p256dh, row.auth = sub["keys"]["p256dh"], sub["keys"]["auth"]
    row.user_agent = (user_agent or "")[:300]
    if server_key is not None:
        row.vapid_public = server_key
    if replaces and replaces != row.endpoint:
        unsubscribe(user_id, replaces)
    db.session.flush()
    return row


def unsubscribe(user_id: int, endpoint: str) -> int:
    """Forget one of the user's browsers; how many were forgotten (0 or 1)."""
    return (
        db.session.execute(
            sa.delete(PushSubscription).where(
                PushSubscription.user_id == user_id, PushSubscription.endpoint == endpoint
            )
        ).rowcount
        or 0
    )


def forget_retired_subscriptions() -> int:
    """Forget the subscriptions made with a VAPID key the server no longer keeps (their pushes
    are not sent; their browsers subscribe again when the app is next opened); how many."""
    known = list(delivery.known_vapid_keys())
    return (
        db.session.execute(
            sa.delete(PushSubscription).where(
                PushSubscription.vapid_public.is_not(None),
                PushSubscription.vapid_public.not_in(known),
            )
        ).rowcount
        or 0
    )


# --- group robots -------------------------------------------------------------------------------


def _webhook(kind: str, url: str) -> str:
    try:
        return robots.check_webhook_url(
            kind, url, allow_any_host=bool(current_app.config["ROBOTS_ALLOW_ANY_HOST"])
        )
    except ValueError as exc:
        raise Invalid(
            "webhook_url",
            _l(
                "%(field)s cannot be used: %(reason)s",
                field=_l("Webhook URL"),
                reason=str(exc),
            ),
        ) from None


def _secret(kind: str, secret: str | None) -> str | None:
    if secret and kind != "dingtalk":
        raise Invalid(
            "secret",
            _l("%(field)s is for DingTalk robots only.", field=_l("Signing secret")),
        )
    return secret or None


def add_robot(
    grid: Grid, kind: str, name: str, webhook_url: str, secret: str | None, by: User | Any
) -> Robot:
    """Add a group robot to a county's (or the prefecture's) grid."""
    if grid.level not in (1, 2):
        raise ServiceError(_l("Group robots belong to a county or the prefecture."))
    robot = Robot(
        grid_id=grid.id,
        kind=kind,
        name=name,
        webhook_url=_webhook(kind, webhook_url),
        secret=_secret(kind, secret),
        enabled=True,
        created_by_id=by.id,
        created_at=utcnow(),
    )
    db.session.add(robot)
    db.session.flush()
    return robot


def edit_robot(
    robot: Robot,
    name: str,
    enabled: bool,
    webhook_url: str | None,
    secret: str | None,
    clear_secret: bool,
) -> Robot:
    """Change a robot; a webhook URL or secret left empty is kept as it was."""
    robot.name = name
    robot.enabled = enabled
    if webhook_url:
        robot.webhook_url = _webhook(robot.kind, webhook_url)
    if clear_secret:
        robot.secret = None
    elif secret:
        robot.secret = _secret(robot.kind, secret)
    db.session.flush()
    return robot


def delete_robot(robot: Robot) -> None:
    """Remove a robot (its past deliveries stay in the log, under its name)."""
    db.session.delete(robot)
    db.session.flush()


def try_robot(robot: Robot, title: str, lines: Sequence[str]) -> robots.RobotAnswer:
    """Send one message now (no retry) and log it: the office sees at once whether it works."""
    return delivery.robot_attempt(robot, title, list(lines), [], 1, None, int(time.time() * 1000))


def county_grid_id(grid: Grid) -> int:
    """The grid whose robots hear about `grid`: itself at level 1 or 2, else its county."""
    if grid.level <= 2:
        return grid.id
    return grid.ancestor_ids[1]


def to_group(grid_id: int, title: str, lines: Sequence[str], mobiles: Iterable[str] = ()) -> int:
    """Send `title` and `lines` (plain text) to the enabled robots of the grid's county (or of
    the grid itself at level 1 or 2; the prefecture's robots hear only about the prefecture),
    mentioning `mobiles` except people who turned robot mentions off. Sent by tasks, with
    retries and back-off, once the transaction commits. Returns how many robots will be told."""
    grid = db.session.get(Grid, grid_id)
    if grid is None:
        return 0
    ids = list(
        db.session.scalars(
            sa.select(Robot.id)
            .where(Robot.grid_id == county_grid_id(grid), Robot.enabled.is_(True))
            .order_by(Robot.id)
        )
    )
    if not ids:
        return 0
    wanted = delivery.plain_mobiles(mobiles)
    if wanted:
        muted = set(
            db.session.scalars(
                sa.select(User.mobile)
                .join(ChannelChoice, ChannelChoice.user_id == User.id)
                .where(User.mobile.in_(wanted), ChannelChoice.robot.is_(False))
            )
        )
        wanted = [m for m in wanted if m not in muted]
    text = [str(line) for line in lines]
    for robot_id in ids:  # one call each: queued again alone if the queue was unreachable
        after_commit(functools.partial(tasks.robot_one, robot_id, str(title), text, wanted))
    return len(ids)
