"""Peer feedback: a teacher who completed a course rates it from 1 to 5, once.

Each (course, teacher) pair has its own stream, ``feedback-<course_id>-<trn>``: "once per
teacher" is that stream being empty, and feedback on one course never contends with another
teacher's. Whether the teacher completed the course comes from entitlement's ``CPDCompleted``
events, which the application service reads from the catalogue's local table and passes in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from catalogue.domain.courses import Course, evolve_course, listed
from cpd_events.catalogue_events import CourseFeedbackSubmitted
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event


@dataclass(frozen=True, kw_only=True)
class SubmitFeedback:
    course_id: str
    trn: str
    rating: int
    impact_note: str
    completed: bool  # did the teacher complete the course (entitlement's CPDCompleted)?


@dataclass(frozen=True)
class FeedbackContext:
    course: Course | None = None
    submitted: CourseFeedbackSubmitted | None = None


def evolve_feedback(state: FeedbackContext, event: Event) -> FeedbackContext:
    if isinstance(event, CourseFeedbackSubmitted):
        return replace(state, submitted=event)
    return replace(state, course=evolve_course(state.course, event))


def decide_feedback(command: SubmitFeedback, state: FeedbackContext) -> list[Event]:
    course = listed(command.course_id, state.course)
    if state.submitted is not None:
        raise RuleBroken(
            f"teacher {command.trn} has rated course {course.course_id} already",
            Rule.CONFLICT,
            "trn",
        )
    if not command.completed:
        raise RuleBroken(
            f"teacher {command.trn} has not completed course {course.course_id}",
            Rule.CONFLICT,
            "trn",
        )
    if not 1 <= command.rating <= 5:
        raise RuleBroken("a rating is from 1 to 5", Rule.INVALID, "rating")
    if not command.impact_note.strip():
        raise RuleBroken(
            "say what impact the course had on your practice", Rule.INVALID, "impact_note"
        )
    return [
        CourseFeedbackSubmitted(
            course_id=course.course_id,
            trn=command.trn,
            rating=command.rating,
            impact_note=command.impact_note,
        )
    ]


#: Reads ``course-<course_id>`` and ``feedback-<course_id>-<trn>``; writes the latter only.
feedback_decider: Decider[FeedbackContext, SubmitFeedback] = Decider(
    initial=FeedbackContext, evolve=evolve_feedback, decide=decide_feedback
)
