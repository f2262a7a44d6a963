"""Who may see a problem and its photos, and who records upper-level findings: the one place
for the problems' records.

Built on the grid's scope (grid/access.py): a problem is seen by whoever sees its grid, and also
by the person it was assigned to and by its reporter, who may hold no post in that grid (a
department's officer, a supervisor whose post has since ended)."""

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from extensions import db
from grid.access import Scope, current_scope
from grid.models import Grid, Role
from problems.models import Problem, problem_photo


def sees_problem(problem: Problem) -> bool:
    if current_user.is_authenticated and current_user.id in (
        problem.assignee_user_id,
        problem.reporter_id,
    ):
        return True
    grid = db.session.get(Grid, problem.grid_id)
    return current_scope().sees(grid.path)


def problem_or_abort(problem_id: int) -> Problem:
    problem = db.session.get(Problem, problem_id)
    if problem is None:
        abort(404)
    if not sees_problem(problem):
        abort(403)
    return problem


def may_view_photo(photo_id: int) -> bool:
    """Whether the signed-in person may see a photo of a problem they do not see by its grid
    (its assignee, its reporter): evidence.registry.PhotoOwner.may_view."""
    problem_id = db.session.scalar(
        sa.select(problem_photo.c.problem_id).where(problem_photo.c.photo_id == photo_id)
    )
    problem = db.session.get(Problem, problem_id) if problem_id is not None else None
    return problem is not None and sees_problem(problem)


def enters_problems(scope: Scope) -> bool:
    """Office staff and heads of a county (or of the prefecture) enter problems learned of
    otherwise: a call, a visit, a letter."""
    return any(p.role in (Role.OFFICE, Role.HEAD) and p.grid_level <= 2 for p in scope.posts)


def is_prefecture_staff(scope: Scope) -> bool:
    """Office staff and heads of the level-1 grid record and decide findings. Administrators
    manage people and posts, not findings."""
    return scope.everything and any(
        p.grid_level == 1 and p.role in (Role.OFFICE, Role.HEAD) for p in scope.posts
    )
