"""Feedback decider: a teacher who completed a course rates it from 1 to 5, once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalogue.domain import SubmitFeedback, feedback_decider
from cpd_events.catalogue_events import CourseFeedbackSubmitted, CourseListed, CourseRetired
from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import CourseKind

LISTED = CourseListed(
    course_id="coaching-1",
    provider_id="chartered-college",
    title="Instructional coaching",
    kind=CourseKind.COACHING,
    hours=Decimal(10),
    price_pence=30_000,
)
SUBMITTED = CourseFeedbackSubmitted(
    course_id="coaching-1", trn="1234567", rating=4, impact_note="Better questioning in Year 9"
)


def submit(
    completed: bool = True, rating: int = 4, note: str = SUBMITTED.impact_note
) -> SubmitFeedback:
    return SubmitFeedback(
        course_id="coaching-1", trn="1234567", rating=rating, impact_note=note, completed=completed
    )


def refused(given: list[Event], command: SubmitFeedback) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        feedback_decider.run(given=given, command=command)
    return caught.value


def test_a_teacher_who_completed_the_course_rates_it() -> None:
    assert feedback_decider.run(given=[LISTED], command=submit()) == [SUBMITTED]


def test_a_teacher_who_did_not_complete_it_cannot_rate_it() -> None:
    error = refused([LISTED], submit(completed=False))
    assert (error.rule, error.field) == (Rule.CONFLICT, "trn")


def test_a_teacher_rates_a_course_once() -> None:
    error = refused([LISTED, SUBMITTED], submit(rating=5))
    assert (error.rule, error.field) == (Rule.CONFLICT, "trn")


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_is_from_1_to_5(rating: int) -> None:
    error = refused([LISTED], submit(rating=rating))
    assert (error.rule, error.field) == (Rule.INVALID, "rating")


@pytest.mark.parametrize("rating", [1, 5])
def test_both_ends_of_the_scale_are_ratings(rating: int) -> None:
    assert feedback_decider.run(given=[LISTED], command=submit(rating=rating))


def test_a_rating_comes_with_an_impact_note() -> None:
    error = refused([LISTED], submit(note="   "))
    assert (error.rule, error.field) == (Rule.INVALID, "impact_note")


def test_an_unknown_course_cannot_be_rated() -> None:
    assert refused([], submit()).rule == Rule.NOT_FOUND


def test_a_retired_course_can_still_be_rated_by_those_who_completed_it() -> None:
    retired = CourseRetired(course_id="coaching-1")
    assert feedback_decider.run(given=[LISTED, retired], command=submit()) == [SUBMITTED]
