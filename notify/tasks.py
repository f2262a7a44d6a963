"""The delivery tasks (huey, run in the app's context): a batch of notifications fanned out to
each person's browsers and phone, and a group message to each robot. Every attempt is a
Delivery row; a transient failure (a 5xx or 429, no connection, a robot's rate limit) is retried
with exponential back-off: huey waits `retry_delay` seconds and multiplies it by
`retry_backoff` at each retry."""

import time

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from extensions import db, task
from grid.models import User
from notify import delivery
from notify.models import ChannelChoice, Notification, PushSubscription, Robot

# retries after the first attempt, and the first wait in seconds (then doubled each time)
PUSH = {"retries": 4, "retry_delay": 30, "retry_backoff": 2}  # 30 s, 1, 2, 4 min
SMS = {"retries": 3, "retry_delay": 60, "retry_backoff": 2}  # 1, 2, 4 min
# 20 s to 5 min 20 s: about 10 minutes in all, as long as DingTalk holds a robot that sent
# more than 20 messages a minute (PUSH.md).
ROBOT = {"retries": 5, "retry_delay": 20, "retry_backoff": 2}


class TryLater(Exception):  # noqa: N818 - a signal to huey, not an error of the code
    """A transient failure, logged already: huey runs the task again after its delay."""


def _attempt(options: dict, current) -> tuple[int, float | None]:
    """This attempt's number (1, 2, ...) and, unless it is the last, the wait before the next."""
    left = current.retries if current is not None else 0
    number = options["retries"] - left + 1
    return number, (current.retry_delay if left > 0 else None)


# The fan-out reads everything first and queues after: a database error (a restart) can only
# come before anything was queued, so that trying it again sends nothing twice.
DELIVER = {"retries": 5, "retry_delay": 10, "retry_backoff": 2}  # 10 s to 160 s


@task(**DELIVER)
def deliver(notification_ids: list[int], url: str | None) -> None:
    """Deliver notifications on their people's chosen channels: a task per browser and phone,
    so that one slow or failing device is retried alone."""
    rows = db.session.execute(
        sa.select(Notification, User, ChannelChoice)
        .join(User, User.id == Notification.user_id)
        .outerjoin(ChannelChoice, ChannelChoice.user_id == User.id)
        .where(Notification.id.in_(notification_ids))
        .order_by(Notification.id)
    ).all()
    pushes, texts = [], []
    for notification, user, choice in rows:
        if not user.active:
            continue
        web_push = choice.web_push if choice is not None else True
        sms = choice.sms if choice is not None else False
        payload = delivery.push_payload(
            notification.kind,
            notification.subject,
            notification.message,
            dict(notification.params or {}),
            url,
            user.locale,
        )
        if web_push:
            subscriptions = db.session.scalars(
                sa.select(PushSubscription.id)
                .where(PushSubscription.user_id == user.id)
                .order_by(PushSubscription.id)
            )
            pushes += [(notification.id, s, payload) for s in subscriptions]
        if sms and user.mobile:
            with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                text = f"【{_('GridPatrol')}】{payload['body']}"
            if payload.get("deadline_text"):
                text += f" {payload['deadline_text']}"
            texts.append((notification.id, user.mobile, text))
    for notification_id, subscription_id, payload in pushes:
        push_one(notification_id, subscription_id, payload)
    for notification_id, mobile, text in texts:
        sms_one(notification_id, mobile, text)


@task(context=True, **PUSH)
def push_one(notification_id: int, subscription_id: int, payload: dict, task=None) -> None:
    """One push to one browser."""
    notification = db.session.get(Notification, notification_id)
    subscription = db.session.get(PushSubscription, subscription_id)
    # Gone since, or the device is now someone else's: nothing to send.
    if notification is None or subscription is None:
        return
    if subscription.user_id != notification.user_id:
        return
    number, wait = _attempt(PUSH, task)
    again = delivery.push_attempt(
        notification_id, notification.user_id, subscription, payload, number, wait
    )
    db.session.commit()
    if again:
        raise TryLater(f"push {subscription_id}: attempt {number} failed")


@task(context=True, **SMS)
def sms_one(notification_id: int, mobile: str, text: str, task=None) -> None:
    """One SMS."""
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        return
    number, wait = _attempt(SMS, task)
    again = delivery.sms_attempt(notification_id, notification.user_id, mobile, text, number, wait)
    db.session.commit()
    if again:
        raise TryLater(f"SMS for notification {notification_id}: attempt {number} failed")


@task(context=True, **ROBOT)
def robot_one(robot_id: int, title: str, lines: list[str], mobiles: list[str], task=None) -> None:
    """One group message to one robot."""
    robot = db.session.get(Robot, robot_id)
    if robot is None or not robot.enabled:
        return
    number, wait = _attempt(ROBOT, task)
    answer = delivery.robot_attempt(
        robot, title, lines, mobiles, number, wait, int(time.time() * 1000)
    )
    db.session.commit()
    if answer.retry and wait is not None:
        raise TryLater(f"robot {robot_id}: attempt {number} failed")
