"""Access-matrix entries for the notification channels (notify/views.py), merged into
tests/test_access_matrix.py's ROUTES:

    from tests.matrix_notify import notify_routes
    ROUTES.update(notify_routes(Route, CHANNELS_OF))

Policy: everyone signed in keeps their own channels and reads their own delivery log. The group
robots of a county or the prefecture are kept by the office staff and administrators of that grid
or above (the same people who keep its complaint channels: CHANNELS_OF); anyone else is refused
(403: grids are public facts). A township has no robots.
"""

ROBOT_GRIDS = ["C", "ROOT", "OTHER_C"]
GRID_TARGETS = ["C", "ROOT", "OTHER_C", "T"]


def _robot(world, target) -> int:
    """A robot of the grid (made on first use; the test's transaction rolls it back). Its
    webhook is a closed local port: a test message fails at once, without the internet."""
    from extensions import db
    from notify.models import Robot

    key = f"robot-{target}"
    if key not in world.records:
        robot = Robot(
            grid_id=world.grids[target].id,
            kind="wecom",
            name="矩阵测试群",
            webhook_url="http://127.0.0.1:9/cgi-bin/webhook/send?key=matrix",
            enabled=True,
        )
        db.session.add(robot)
        db.session.flush()
        world.records[key] = robot.id
    return world.records[key]


def notify_routes(Route, channels_of) -> dict:  # noqa: N803 - the class passed in
    def signed_in(status):
        def expect(actor, _target):
            if actor == "anon":
                return 302 if status == 200 else 401
            return status

        return expect

    def keeps(ok_status):
        def expect(actor, target):
            if actor == "anon":
                return 302 if ok_status == 200 else 401
            if target is None:
                return ok_status if channels_of.get(actor) else 403
            return ok_status if target in channels_of.get(actor, set()) else 403

        return expect

    def robots_url():
        return lambda w, t: "/notifications/robots" + (f"?grid={w.grids[t].id}" if t else "")

    return {
        "notify.badge": Route("GET", lambda w, t: "/notifications/badge", [None], signed_in(200)),
        "notify.settings": Route(
            "GET", lambda w, t: "/notifications/settings", [None], signed_in(200)
        ),
        # an empty form turns every channel off: a choice like any other
        "notify.save_settings": Route(
            "POST", lambda w, t: "/notifications/settings", [None], signed_in(303)
        ),
        # no subscription sent: refused in words (400) once signed in
        "notify.push_subscribe": Route(
            "POST", lambda w, t: "/notifications/push", [None], signed_in(400)
        ),
        "notify.push_unsubscribe": Route(
            "POST", lambda w, t: "/notifications/push/delete", [None], signed_in(400)
        ),
        "notify.deliveries": Route(
            "GET", lambda w, t: "/notifications/deliveries", [None], signed_in(200)
        ),
        "notify.robots_index": Route("GET", robots_url(), [None, *GRID_TARGETS], keeps(200)),
        # a blank form is refused in words (400) to those who may add
        "notify.robots_add": Route("POST", robots_url(), [None, *GRID_TARGETS], keeps(400)),
        "notify.robots_edit": Route(
            "GET",
            lambda w, t: f"/notifications/robots/{_robot(w, t)}/edit",
            ROBOT_GRIDS,
            keeps(200),
        ),
        "notify.robots_update": Route(
            "POST",
            lambda w, t: f"/notifications/robots/{_robot(w, t)}/edit",
            ROBOT_GRIDS,
            keeps(400),
        ),
        "notify.robots_test": Route(
            "POST",
            lambda w, t: f"/notifications/robots/{_robot(w, t)}/test",
            ROBOT_GRIDS,
            keeps(303),
        ),
        "notify.robots_delete": Route(
            "POST",
            lambda w, t: f"/notifications/robots/{_robot(w, t)}/delete",
            ROBOT_GRIDS,
            keeps(303),
        ),
    }
