"""Who may see a problem and its photos: the one place for the patrol's records.

Built on the grid's scope (grid/access.py): a problem is seen by whoever sees its grid, and also
by the person it was assigned to and by its reporter, who may hold no post in that grid (a
department's officer, a supervisor whose post has since ended)."""

from flask import abort
from flask_login import current_user

from extensions import db
from grid.access import current_scope, grid_or_abort
from grid.models import Grid
from patrol.models import Photo, Problem


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


def photo_or_abort(photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        abort(404)
    if photo.problem_id is not None:
        problem_or_abort(photo.problem_id)
    else:
        grid_or_abort(photo.grid_id)
    return photo
