"""What changes a typical case: preparing it (from a closed problem, or typed in), editing it
and its replacements, submitting it, its review (审核) and its approval (审批/签发). Each
writes a step; a refusal raises ServiceError and writes nothing. They flush; the request
commits.

Who decides (the project's reading of annex 4's two steps; pages check the office, these the
people): the case is prepared by an office (the prefecture's, or its county's); reviewed by a
second person of such an office, who did not prepare or edit it; approved by the prefecture
office (acting for the detachment), by a third person, who neither prepared, edited nor
reviewed it. A refusal at either step sends the case back to the draft with its reason.
"""

from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from enforce.cases import anonymise
from enforce.cases.models import CaseState, CaseStep, TypicalCase, TypicalCaseStep
from extensions import db
from grid.errors import ServiceError
from grid.models import User
from grid.time import utcnow
from problems.escalation import CLOSED_STATES
from problems.models import Problem, ProblemEvent
from sources.models import Source

TITLE_MAX = 200
ORIGINAL_MAX = 5000  # the office's text; the public one must come to 1,000-1,500
PHRASE_MAX = 100
AUTHOR_STEPS = (CaseStep.PREPARED, CaseStep.EDITED, CaseStep.SUBMITTED)


# --- the names the app knows ----------------------------------------------------------------


def known_names(text: str) -> list[tuple[str, str]]:
    """The names of people and units the app holds that occur in `text`: users, sources and
    their contact people, complainants. The database looks for them (`text LIKE '%' || name ||
    '%'`), so only the few that occur come back; a name with a LIKE wildcard in it is checked
    again here."""
    whole = sa.literal(text, sa.Text)

    def occurring(column):
        return sa.select(column.label("name")).where(
            column.is_not(None), sa.func.length(column) >= 2, whole.contains(column)
        )

    people = sa.union(
        occurring(User.name), occurring(Source.contact_name), occurring(Problem.complainant_name)
    ).subquery()
    found = [(n, anonymise.PERSON) for n in db.session.scalars(sa.select(people.c.name))]
    found += [(n, anonymise.COMPANY) for n in db.session.scalars(occurring(Source.name).distinct())]
    return [(name.strip(), kind) for name, kind in found if name and name.strip() in text]


# --- the texts --------------------------------------------------------------------------------


def _recompute(case: TypicalCase) -> None:
    """The public title and text of the case's original, with its editor's choices."""
    whole = f"{case.original_title}\n{case.original}"
    extras = [(p, r) for p, r in case.extras]
    found = anonymise.find(whole, known_names(whole), extras, set(case.kept))
    cut = len(case.original_title)
    case.title = anonymise.apply(case.original_title, [r for r in found if r.end <= cut])
    shifted = [
        anonymise.Replacement(
            r.start - cut - 1, r.end - cut - 1, r.original, r.replacement, r.kind, r.kept
        )
        for r in found
        if r.start > cut
    ]
    case.text = anonymise.apply(case.original, shifted)
    case.length = anonymise.counted_length(case.text)
    case.replacements = [
        {
            "start": r.start,
            "end": r.end,
            "original": r.original,
            "replacement": r.replacement,
            "kind": r.kind,
            "kept": r.kept,
        }
        for r in found
    ]


def length_refusal(case: TypicalCase) -> str | None:
    """Why the public text's length would not do (annex 4: 1,000-1,500), or None."""
    problem = anonymise.length_problem(case.text)
    if problem is None:
        return None
    which, n = problem
    if which == "long":
        return str(
            _l(
                "The public text is %(length)s characters long (not counting spaces and line "
                "breaks); a typical case has %(min)s to %(max)s. Shorten it by %(over)s.",
                length=n,
                min=anonymise.LENGTH_MIN,
                max=anonymise.LENGTH_MAX,
                over=n - anonymise.LENGTH_MAX,
            )
        )
    return str(
        _l(
            "The public text is %(length)s characters long (not counting spaces and line "
            "breaks); a typical case has %(min)s to %(max)s. Add %(short)s more.",
            length=n,
            min=anonymise.LENGTH_MIN,
            max=anonymise.LENGTH_MAX,
            short=anonymise.LENGTH_MIN - n,
        )
    )


def _not_too_long(case: TypicalCase) -> None:
    """A draft may still be short; it may never be longer than a case can be."""
    if case.length > anonymise.LENGTH_MAX:
        raise ServiceError(length_refusal(case))


def _check_texts(title: str, original: str) -> None:
    if not title.strip():
        raise ServiceError(_l("Give the case a title."))
    if not original.strip():
        raise ServiceError(_l("Write or paste the case's text."))
    if len(title) > TITLE_MAX or "\n" in title:
        raise ServiceError(_l("The title must be one line of at most %(max)s.", max=TITLE_MAX))
    if len(original) > ORIGINAL_MAX:
        raise ServiceError(
            _l(
                "The case's text is %(length)s characters long; at most %(max)s can be kept.",
                length=len(original),
                max=ORIGINAL_MAX,
            )
        )


# --- steps ------------------------------------------------------------------------------------


def _step(case: TypicalCase, step: CaseStep, by: User | None, to: str, comment: str | None):
    seq = (
        db.session.scalar(
            sa.select(sa.func.max(TypicalCaseStep.seq)).where(TypicalCaseStep.case_id == case.id)
        )
        or 0
    ) + 1
    row = TypicalCaseStep(
        case_id=case.id,
        seq=seq,
        at=utcnow(),
        actor_id=by.id if by else None,
        step=step,
        from_state=case.state if seq > 1 else None,
        to_state=to,
        comment=comment or None,
    )
    case.state = to
    db.session.add(row)
    db.session.flush()
    return row


def authors(case: TypicalCase) -> set[int]:
    """Everyone who prepared, edited or submitted the case, since it was created."""
    return set(
        db.session.scalars(
            sa.select(TypicalCaseStep.actor_id).where(
                TypicalCaseStep.case_id == case.id,
                TypicalCaseStep.step.in_([s.value for s in AUTHOR_STEPS]),
                TypicalCaseStep.actor_id.is_not(None),
            )
        )
    )


def _in_draft(case: TypicalCase) -> None:
    if case.state != CaseState.DRAFT:
        raise ServiceError(
            _l("This case is no longer a draft: it can be changed only after it is returned.")
        )


def closed_problem(problem: Problem) -> None:
    if problem.state not in CLOSED_STATES:
        raise ServiceError(
            _l("Problem %(id)s is not closed: only a closed problem becomes a case.", id=problem.id)
        )


def problem_text(problem: Problem) -> str:
    """What the problem's record says, to start the case's text from: its description and the
    comments of its steps, in order."""
    comments = db.session.scalars(
        sa.select(ProblemEvent.comment)
        .where(ProblemEvent.problem_id == problem.id, ProblemEvent.comment.is_not(None))
        .order_by(ProblemEvent.seq)
    )
    return "\n".join([problem.description, *[c for c in comments if c and c.strip()]])


def prepare(
    county_id: int | None,
    problem: Problem | None,
    title: str,
    original: str,
    by: User | None,
) -> TypicalCase:
    """A new draft, from a closed problem (of that county) or typed in."""
    if problem is not None:
        closed_problem(problem)
        county_id = problem.county_id
    _check_texts(title, original)
    case = TypicalCase(
        county_id=county_id,
        problem_id=problem.id if problem else None,
        original_title=title,
        original=original,
        extras=[],
        kept=[],
        state=CaseState.DRAFT,
        created_by_id=by.id if by else None,
        created_at=utcnow(),
    )
    _recompute(case)
    _not_too_long(case)
    db.session.add(case)
    db.session.flush()
    _step(case, CaseStep.PREPARED, by, CaseState.DRAFT, None)
    return case


def edit(case: TypicalCase, title: str, original: str, by: User | None) -> TypicalCase:
    """The draft's title and text, rewritten."""
    _in_draft(case)
    _check_texts(title, original)
    case.original_title, case.original = title, original
    _recompute(case)
    _not_too_long(case)
    _step(case, CaseStep.EDITED, by, CaseState.DRAFT, None)
    return case


def add_phrase(case: TypicalCase, phrase: str, replacement: str, by: User | None) -> TypicalCase:
    """A word or phrase the anonymiser did not know, replaced wherever it occurs."""
    _in_draft(case)
    phrase, replacement = phrase.strip(), replacement.strip()
    if not phrase:
        raise ServiceError(_l("Type the word or phrase to replace."))
    if not replacement:
        raise ServiceError(_l("Type what replaces it."))
    if len(phrase) > PHRASE_MAX or len(replacement) > PHRASE_MAX:
        raise ServiceError(_l("A phrase and its replacement are at most %(max)s.", max=PHRASE_MAX))
    if phrase not in case.original and phrase not in case.original_title:
        raise ServiceError(_l("“%(phrase)s” is not in the case's text.", phrase=phrase))
    case.extras = [[p, r] for p, r in case.extras if p != phrase] + [[phrase, replacement]]
    case.kept = [k for k in case.kept if k != phrase]
    _recompute(case)
    _not_too_long(case)
    _step(case, CaseStep.EDITED, by, CaseState.DRAFT, f"+ {phrase} → {replacement}")
    return case


def keep(case: TypicalCase, original: str, undo: bool, by: User | None) -> TypicalCase:
    """Leave a replaced word as written (`undo`), or replace it again."""
    _in_draft(case)
    listed = {r["original"] for r in case.replacements}
    if original not in listed:
        raise ServiceError(_l("“%(phrase)s” is not among the replacements.", phrase=original))
    others = [k for k in case.kept if k != original]
    case.kept = [*others, original] if undo else others
    _recompute(case)
    _not_too_long(case)
    what = f"= {original}" if undo else f"≠ {original}"
    _step(case, CaseStep.EDITED, by, CaseState.DRAFT, what)
    return case


def submit(case: TypicalCase, comment: str | None, by: User | None) -> TypicalCase:
    """The draft goes to review, its public text within 1,000-1,500."""
    _in_draft(case)
    _recompute(case)  # names the app learnt since the last edit are replaced too
    refusal = length_refusal(case)
    if refusal:
        raise ServiceError(refusal)
    _step(case, CaseStep.SUBMITTED, by, CaseState.SUBMITTED, comment)
    return case


def _return(case: TypicalCase, comment: str | None, by: User | None) -> TypicalCase:
    if not (comment or "").strip():
        raise ServiceError(_l("Say why the case goes back: the reason is required."))
    case.reviewed_by_id = None
    _step(case, CaseStep.RETURNED, by, CaseState.DRAFT, comment)
    return case


def review(case: TypicalCase, passed: bool, comment: str | None, by: User) -> TypicalCase:
    """The second person's review (审核): passed on to approval, or returned to the draft."""
    if case.state != CaseState.SUBMITTED:
        raise ServiceError(_l("Only a case submitted for review can be reviewed."))
    if by.id in authors(case):
        raise ServiceError(
            _l("You prepared or edited this case: its review is for a second person.")
        )
    if not passed:
        return _return(case, comment, by)
    case.reviewed_by_id = by.id
    _step(case, CaseStep.REVIEWED, by, CaseState.REVIEWED, comment)
    return case


def approve(case: TypicalCase, passed: bool, comment: str | None, by: User) -> TypicalCase:
    """The third person's approval (审批/签发): published, or returned to the draft."""
    if case.state == CaseState.SUBMITTED:
        raise ServiceError(_l("This case has not been reviewed yet: review comes first."))
    if case.state != CaseState.REVIEWED:
        raise ServiceError(_l("Only a reviewed case can be approved."))
    if by.id in authors(case) or by.id == case.reviewed_by_id:
        raise ServiceError(
            _l("You prepared, edited or reviewed this case: its approval is for a third person.")
        )
    if not passed:
        return _return(case, comment, by)
    refusal = length_refusal(case)
    if refusal:  # cannot happen through these services; a record changed by hand is refused
        raise ServiceError(refusal)
    case.approved_by_id = by.id
    case.published_at = utcnow()
    _step(case, CaseStep.APPROVED, by, CaseState.PUBLISHED, comment)
    return case


def steps(case: TypicalCase) -> Iterable[TypicalCaseStep]:
    return db.session.scalars(
        sa.select(TypicalCaseStep)
        .where(TypicalCaseStep.case_id == case.id)
        .order_by(TypicalCaseStep.seq)
    )
