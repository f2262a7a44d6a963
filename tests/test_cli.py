"""The operational commands: users, posts, lookups, staffing."""

import sqlalchemy as sa

from extensions import db
from grid import queries
from grid.models import Membership, Role, User


def test_users_create_as_administrator(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "wang",
            "--name",
            "王某",
            "--mobile",
            "13800000001",
            "--admin-of",
            "652301000000",
        ],
        input="long-enough-1\nlong-enough-1\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "wang"))
    assert user.check_password("long-enough-1") and user.mobile == "13800000001"
    [post] = db.session.scalars(sa.select(Membership).where(Membership.user_id == user.id))
    assert post.role == Role.ADMIN and post.grid_id == queries.grid_by_code("652301000000").id


def test_users_create_refuses_clearly(runner):
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    taken = runner.invoke(
        args=["users", "create", "cun", "--name", "重名"], input="long-enough-1\nlong-enough-1\n"
    )
    assert taken.exit_code != 0 and "该用户名或手机号已被使用" in taken.output  # zh_CN by default
    village = runner.invoke(
        args=["users", "create", "li", "--name", "李某", "--admin-of", "652301101201"],
        input="long-enough-1\nlong-enough-1\n",
    )
    assert village.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_users_appoint(runner):
    runner.invoke(
        args=["users", "create", "zhang", "--name", "张某"], input="long-enough-1\nlong-enough-1\n"
    )
    town = queries.grid_by_code("652301101000")
    village = queries.children(town)[0]
    result = runner.invoke(
        args=[
            "users",
            "appoint",
            "zhang",
            town.code,
            "subhead",
            "--covers",
            village.code,
            "--from",
            "2026-01-01",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "zhang"))
    post = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id))
    assert queries.covers_of([post.id])[post.id] == {village.id}
    missing = runner.invoke(args=["users", "appoint", "zhang", town.code, "supervisor"])
    assert missing.exit_code != 0 and "专职还是兼职" in missing.output


def test_grid_locate_and_staffing(runner):
    located = runner.invoke(args=["grid", "locate", "87.3095", "44.0142"])
    assert "level 2: 昌吉市" in located.output
    staffing = runner.invoke(args=["grid", "staffing", "652301000000"])
    assert staffing.exit_code == 0 and "finding(s)" in staffing.output
    unknown = runner.invoke(args=["grid", "staffing", "652399999999"])
    assert unknown.exit_code != 0 and "no grid" in unknown.output


def test_demo_load_if_empty_adds_the_stations_to_a_demo_made_before_them(runner):
    """`make run` on a demo database from before the alerts: the stations come in, once."""
    from alerts.models import Alert, Reading, Station
    from assess.air_models import TamperedStation

    db.session.execute(sa.delete(Reading))
    db.session.execute(sa.delete(Alert))
    db.session.execute(sa.delete(TamperedStation))  # the demo's (assess/demo_air.py)
    db.session.execute(sa.delete(Station))
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count(Station.id))) == 154
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "微站" not in again.output
    assert db.session.scalar(sa.select(sa.func.count(Station.id))) == 154
