"""The words for the workflow's codes (states, steps, capacities, origins), in the user's
language."""

from i18n import N_
from i18n.language import label

STATES = {
    "submitted": N_("Complaint to confirm"),
    "village": N_("At the village"),
    "returned": N_("Sent back to the village"),
    "township": N_("Waiting for the township"),
    "county": N_("Waiting for the county to assign"),
    "prefecture": N_("Referred to the prefecture"),
    "rectifying": N_("Being rectified"),
    "rechecking": N_("Waiting for re-check"),
    "resolved": N_("Resolved"),
    "closed": N_("Rectified and closed"),
    "dismissed": N_("Dismissed"),
}
NEXT_STEPS = {  # what the person whose inbox holds the problem is expected to do
    "submitted": N_("Confirm the complaint on site, or dismiss it"),
    "village": N_("Resolve it here, or send it up to the township"),
    "returned": N_("Act on the township's reason, then resolve it or send it up again"),
    "township": N_("Resolve it, send it back, or approve it up to the county"),
    "county": N_("Assign it for rectification, enforce jointly, or refer it"),
    "prefecture": N_("Assign it, or order supervision"),
    "rectifying": N_("Rectify it and submit the result with photos"),
    "rechecking": N_("Re-check the rectification on site"),
}
EVENTS = {  # what the buttons and the timeline say
    "report": N_("Reported"),
    "confirm": N_("Confirm the complaint"),
    "dismiss": N_("Dismiss the complaint"),
    "resolve": N_("Resolve here"),
    "escalate": N_("Send up to the township"),
    "send_back": N_("Send back to the village"),
    "approve": N_("Approve: send up to the county"),
    "assign": N_("Assign for rectification (交办)"),
    "joint": N_("Joint enforcement"),
    "refer": N_("Refer to the prefecture"),
    "submit": N_("Submit the rectification"),
    "recheck_pass": N_("Re-check: passed"),
    "recheck_fail": N_("Re-check: not passed"),
    "comment": N_("Comment"),
    "supervise": N_("Order supervision (督办)"),
    "deadline_missed": N_("Deadline missed"),
}
# The message after each step: what was done, and what happens next. %(assignee)s and
# %(department)s name who rectifies; %(when)s is the rectification's last day (views.day_included).
DONE = {
    "confirm": N_("The complaint is confirmed; the village now handles it."),
    "dismiss": N_("The complaint is dismissed; nothing more is done on it."),
    "resolve": N_("Resolved here; the problem is closed."),
    "escalate": N_("Sent up to the township; it waits for the township's review."),
    "send_back": N_("Sent back to the village; it waits for the village to handle it again."),
    "approve": N_("Approved and sent up to the county; it waits for the county to assign it."),
    "assign": N_("Assigned to %(assignee)s; rectify by: %(when)s."),
    "joint": N_("Assigned for joint enforcement led by %(department)s; rectify by: %(when)s."),
    "refer": N_("Referred to the prefecture; it waits for the prefecture office to act."),
    "submit": N_("The rectification is submitted; it waits for the re-check."),
    "recheck_pass": N_("Re-check passed; the problem is rectified and closed."),
    "recheck_fail": N_("Re-check not passed; sent back to be rectified by: %(when)s."),
    "comment": N_("Your comment is added."),
    "supervise": N_("Supervision (督办) is ordered; those who must act are told."),
}
CAPACITIES = {
    "village": N_("village"),
    "township": N_("township"),
    "county": N_("county"),
    "prefecture": N_("prefecture"),
    "assignee": N_("assignee"),
    "reporter": N_("reporter"),
}
ORIGINS = {
    "patrol": N_("patrol"),
    "complaint": N_("public complaint"),
    "office": N_("office"),
    "alert": N_("alert"),
}


def register(app) -> None:
    app.jinja_env.filters.update(
        state_label=label(STATES),
        next_step=lambda code: label(NEXT_STEPS)(code) if code in NEXT_STEPS else "",
        event_label=label(EVENTS),
        capacity_label=lambda code: label(CAPACITIES)(code) if code else "",
        origin_label=label(ORIGINS),
    )
