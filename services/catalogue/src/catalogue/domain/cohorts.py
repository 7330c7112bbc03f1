"""Cohorts: scheduled runs of a course, and the places schools book on them.

A cohort's stream (``cohort-<cohort_id>``) holds its schedule and every booking, so its capacity
is guarded by the stream's expected version: of two bookings racing for the last place, the
second to append conflicts, re-decides against the full cohort and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from catalogue.domain.courses import Course, evolve_course, listed, not_retired
from cpd_events.catalogue_events import CohortPlaceBooked, CohortScheduled
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event


@dataclass(frozen=True)
class Cohort:
    cohort_id: str
    course_id: str
    starts_on: date
    ends_on: date
    capacity: int
    bookings: dict[str, str] = field(default_factory=dict)  # booking id -> TRN

    @property
    def booked(self) -> int:
        return len(self.bookings)

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.booked, 0)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScheduleCohort:
    cohort_id: str
    course_id: str
    starts_on: date
    ends_on: date
    capacity: int


@dataclass(frozen=True, kw_only=True)
class BookPlace:
    cohort_id: str
    booking_id: str
    trn: str
    school_urn: str
    today: date  # supplied by the application service: the domain reads no clock


CohortCommand = ScheduleCohort | BookPlace


@dataclass(frozen=True)
class CohortContext:
    """What a cohort command depends on: the cohort's stream and its course's stream."""

    course: Course | None = None
    cohort: Cohort | None = None


def evolve_cohort(state: CohortContext, event: Event) -> CohortContext:
    match event:
        case CohortScheduled():
            cohort = Cohort(
                cohort_id=event.cohort_id,
                course_id=event.course_id,
                starts_on=event.starts_on,
                ends_on=event.ends_on,
                capacity=event.capacity,
            )
            return replace(state, cohort=cohort)
        case CohortPlaceBooked() if state.cohort is not None:
            bookings = {**state.cohort.bookings, event.booking_id: event.trn}
            return replace(state, cohort=replace(state.cohort, bookings=bookings))
    return replace(state, course=evolve_course(state.course, event))


def _schedule(command: ScheduleCohort, state: CohortContext) -> list[Event]:
    if state.cohort is not None:
        raise RuleBroken(
            f"cohort {command.cohort_id} is scheduled already", Rule.CONFLICT, "cohort_id"
        )
    course = not_retired(listed(command.course_id, state.course, "course_id"))
    if command.capacity <= 0:
        raise RuleBroken("a cohort has at least one place", Rule.INVALID, "capacity")
    if command.ends_on < command.starts_on:
        raise RuleBroken(
            f"a cohort ends on or after its start ({command.starts_on.isoformat()})",
            Rule.INVALID,
            "ends_on",
        )
    return [
        CohortScheduled(
            cohort_id=command.cohort_id,
            course_id=course.course_id,
            starts_on=command.starts_on,
            ends_on=command.ends_on,
            capacity=command.capacity,
        )
    ]


def _book(command: BookPlace, state: CohortContext) -> list[Event]:
    cohort = state.cohort
    if cohort is None:
        raise RuleBroken(f"cohort {command.cohort_id} is not scheduled", Rule.NOT_FOUND)
    if command.booking_id in cohort.bookings:
        raise RuleBroken(
            f"booking {command.booking_id} is made already", Rule.CONFLICT, "booking_id"
        )
    if command.trn in cohort.bookings.values():
        raise RuleBroken(
            f"teacher {command.trn} has a place on cohort {cohort.cohort_id} already",
            Rule.CONFLICT,
            "trn",
        )
    not_retired(listed(cohort.course_id, state.course))
    if command.today > cohort.ends_on:
        raise RuleBroken(
            f"cohort {cohort.cohort_id} ended on {cohort.ends_on.isoformat()}", Rule.CONFLICT
        )
    if cohort.places_left == 0:
        raise RuleBroken(
            f"cohort {cohort.cohort_id} is full ({cohort.capacity} places)", Rule.CONFLICT
        )
    return [
        CohortPlaceBooked(
            cohort_id=cohort.cohort_id,
            course_id=cohort.course_id,
            booking_id=command.booking_id,
            trn=command.trn,
            school_urn=command.school_urn,
        )
    ]


def decide_cohort(command: CohortCommand, state: CohortContext) -> list[Event]:
    match command:
        case ScheduleCohort():
            return _schedule(command, state)
        case BookPlace():
            return _book(command, state)


#: Reads ``course-<course_id>`` and ``cohort-<cohort_id>``; writes the cohort's stream only.
cohort_decider: Decider[CohortContext, CohortCommand] = Decider(
    initial=CohortContext, evolve=evolve_cohort, decide=decide_cohort
)
