"""Cohort decider: scheduling runs of a course and booking places within capacity."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from catalogue.domain import BookPlace, CohortCommand, ScheduleCohort, cohort_decider
from cpd_events.catalogue_events import (
    CohortPlaceBooked,
    CohortScheduled,
    CourseListed,
    CourseRetired,
)
from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import CourseKind

TODAY = date(2025, 9, 1)
LISTED = CourseListed(
    course_id="maths-hub-1",
    provider_id="maths-hub",
    title="Teaching for mastery",
    kind=CourseKind.HUB,
    hours=Decimal(12),
    price_pence=0,
)
RETIRED = CourseRetired(course_id="maths-hub-1")
SCHEDULE = ScheduleCohort(
    cohort_id="c1",
    course_id="maths-hub-1",
    starts_on=date(2025, 10, 1),
    ends_on=date(2026, 3, 31),
    capacity=2,
)
SCHEDULED = CohortScheduled(
    cohort_id="c1",
    course_id="maths-hub-1",
    starts_on=date(2025, 10, 1),
    ends_on=date(2026, 3, 31),
    capacity=2,
)


def book(n: int, trn: str | None = None, today: date = TODAY) -> BookPlace:
    return BookPlace(
        cohort_id="c1",
        booking_id=f"b{n}",
        trn=trn or f"100000{n}",
        school_urn="100000",
        today=today,
    )


def booked(n: int, trn: str | None = None) -> CohortPlaceBooked:
    return CohortPlaceBooked(
        cohort_id="c1",
        course_id="maths-hub-1",
        booking_id=f"b{n}",
        trn=trn or f"100000{n}",
        school_urn="100000",
    )


def refused(given: list[Event], command: CohortCommand) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        cohort_decider.run(given=given, command=command)
    return caught.value


# --- scheduling -------------------------------------------------------------------------------


def test_a_cohort_of_a_listed_course_is_scheduled() -> None:
    assert cohort_decider.run(given=[LISTED], command=SCHEDULE) == [SCHEDULED]


def test_a_one_day_cohort_ends_on_its_start() -> None:
    one_day = ScheduleCohort(**{**SCHEDULE.__dict__, "ends_on": SCHEDULE.starts_on})
    assert cohort_decider.run(given=[LISTED], command=one_day)


def test_a_cohort_ends_on_or_after_its_start() -> None:
    early = ScheduleCohort(**{**SCHEDULE.__dict__, "ends_on": date(2025, 9, 30)})
    error = refused([LISTED], early)
    assert (error.rule, error.field) == (Rule.INVALID, "ends_on")


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_cohort_has_at_least_one_place(capacity: int) -> None:
    error = refused([LISTED], ScheduleCohort(**{**SCHEDULE.__dict__, "capacity": capacity}))
    assert (error.rule, error.field) == (Rule.INVALID, "capacity")


def test_an_unknown_course_has_no_cohort() -> None:
    error = refused([], SCHEDULE)
    assert (error.rule, error.field) == (Rule.NOT_FOUND, "course_id")


def test_a_retired_course_has_no_new_cohort() -> None:
    assert refused([LISTED, RETIRED], SCHEDULE).rule == Rule.CONFLICT


def test_a_cohort_id_is_scheduled_once() -> None:
    error = refused([LISTED, SCHEDULED], SCHEDULE)
    assert (error.rule, error.field) == (Rule.CONFLICT, "cohort_id")


# --- booking ----------------------------------------------------------------------------------


def test_a_place_is_booked_while_places_are_left() -> None:
    assert cohort_decider.run(given=[LISTED, SCHEDULED], command=book(1)) == [booked(1)]
    assert cohort_decider.run(given=[LISTED, SCHEDULED, booked(1)], command=book(2)) == [booked(2)]


def test_a_full_cohort_refuses_bookings() -> None:
    error = refused([LISTED, SCHEDULED, booked(1), booked(2)], book(3))
    assert error.rule == Rule.CONFLICT
    assert "full" in error.message


def test_an_unknown_cohort_takes_no_booking() -> None:
    assert refused([LISTED], book(1)).rule == Rule.NOT_FOUND


def test_a_retired_course_takes_no_booking() -> None:
    assert refused([LISTED, SCHEDULED, RETIRED], book(1)).rule == Rule.CONFLICT


def test_an_ended_cohort_takes_no_booking() -> None:
    error = refused([LISTED, SCHEDULED], book(1, today=SCHEDULED.ends_on + timedelta(days=1)))
    assert error.rule == Rule.CONFLICT
    assert cohort_decider.run(given=[LISTED, SCHEDULED], command=book(1, today=SCHEDULED.ends_on))


def test_a_booking_id_is_used_once() -> None:
    error = refused([LISTED, SCHEDULED, booked(1)], book(1, trn="2000000"))
    assert (error.rule, error.field) == (Rule.CONFLICT, "booking_id")


def test_a_teacher_has_one_place_on_a_cohort() -> None:
    error = refused([LISTED, SCHEDULED, booked(1, trn="2000000")], book(2, trn="2000000"))
    assert (error.rule, error.field) == (Rule.CONFLICT, "trn")


def test_the_cohort_state_counts_its_places() -> None:
    cohort = cohort_decider.fold([LISTED, SCHEDULED, booked(1)]).cohort
    assert cohort is not None
    assert (cohort.capacity, cohort.booked, cohort.places_left) == (2, 1, 1)
