"""Courses: listed under a registered provider, badged for quality, retired at the end."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from catalogue.domain.providers import Provider, evolve_provider
from cpd_events.catalogue_events import (
    CourseBadged,
    CourseBadgeRevoked,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderRegistered,
)
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import CourseKind


@dataclass(frozen=True)
class Badge:
    level: str
    expires_on: date


@dataclass(frozen=True)
class Course:
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: str | None
    subjects: tuple[str, ...]
    phases: tuple[str, ...]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    evidence_summary: str
    badge: Badge | None = None
    retired: bool = False
    retirement_reason: str | None = None


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ListCourse:
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: str | None = None
    subjects: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    hours: Decimal
    price_pence: int
    government_funded: bool = False
    delivery_mode: str = "blended"
    evidence_summary: str = ""


@dataclass(frozen=True)
class RetireCourse:
    course_id: str
    reason: str = ""


@dataclass(frozen=True)
class BadgeCourse:
    course_id: str
    level: str
    expires_on: date
    today: date  # supplied by the application service: the domain reads no clock


CourseCommand = RetireCourse | BadgeCourse


# --- one course's stream ----------------------------------------------------------------------


def evolve_course(state: Course | None, event: Event) -> Course | None:
    if isinstance(event, CourseListed):
        return Course(
            course_id=event.course_id,
            provider_id=event.provider_id,
            title=event.title,
            kind=event.kind,
            npq_type=event.npq_type,
            subjects=tuple(event.subjects),
            phases=tuple(event.phases),
            hours=event.hours,
            price_pence=event.price_pence,
            government_funded=event.government_funded,
            delivery_mode=event.delivery_mode,
            evidence_summary=event.evidence_summary,
        )
    if state is None:
        return state
    if isinstance(event, CourseUpdated):
        changes = {
            name: value
            for name in ("title", "hours", "price_pence", "delivery_mode", "evidence_summary")
            if (value := getattr(event, name)) is not None
        }
        return replace(state, **changes)
    if isinstance(event, CourseBadged):
        return replace(state, badge=Badge(level=event.level, expires_on=event.expires_on))
    if isinstance(event, CourseBadgeRevoked):
        return replace(state, badge=None)
    if isinstance(event, CourseRetired):
        return replace(state, retired=True, retirement_reason=event.reason)
    return state


def _listed(command: CourseCommand, state: Course | None) -> Course:
    if state is None:
        raise RuleBroken(f"course {command.course_id} is not listed", Rule.NOT_FOUND)
    return state


def decide_course(command: CourseCommand, state: Course | None) -> list[Event]:
    course = _listed(command, state)
    if course.retired:
        raise RuleBroken(f"course {course.course_id} is retired", Rule.CONFLICT)
    match command:
        case RetireCourse():
            return [CourseRetired(course_id=course.course_id, reason=command.reason)]
        case BadgeCourse():
            if command.expires_on <= command.today:
                raise RuleBroken(
                    f"a badge must expire after today ({command.today.isoformat()})",
                    Rule.INVALID,
                    "expires_on",
                )
            return [
                CourseBadged(
                    course_id=course.course_id,
                    level=command.level,
                    expires_on=command.expires_on,
                )
            ]


#: One course's stream, ``course-<course_id>``; ``None`` until the course is listed.
course_decider: Decider[Course | None, CourseCommand] = Decider(
    initial=lambda: None, evolve=evolve_course, decide=decide_course
)


# --- listing: the course's stream read together with its provider's ------------------------


@dataclass(frozen=True)
class Listing:
    """What listing a course depends on: the course's stream and its provider's stream."""

    provider: Provider | None = None
    course: Course | None = None


def evolve_listing(state: Listing, event: Event) -> Listing:
    if isinstance(event, ProviderRegistered):
        return replace(state, provider=evolve_provider(state.provider, event))
    return replace(state, course=evolve_course(state.course, event))


def decide_listing(command: ListCourse, state: Listing) -> list[Event]:
    if state.course is not None:
        raise RuleBroken(
            f"course {command.course_id} is listed already", Rule.CONFLICT, "course_id"
        )
    if state.provider is None:
        raise RuleBroken(
            f"provider {command.provider_id} is not registered: register it first",
            Rule.INVALID,
            "provider_id",
        )
    return [
        CourseListed(
            course_id=command.course_id,
            provider_id=command.provider_id,
            title=command.title,
            kind=command.kind,
            npq_type=command.npq_type,
            subjects=list(command.subjects),
            phases=list(command.phases),
            hours=command.hours,
            price_pence=command.price_pence,
            government_funded=command.government_funded,
            delivery_mode=command.delivery_mode,
            evidence_summary=command.evidence_summary,
        )
    ]


#: Listing reads two streams (``provider-<id>``, ``course-<id>``) and writes the course's only.
listing_decider: Decider[Listing, ListCourse] = Decider(
    initial=Listing, evolve=evolve_listing, decide=decide_listing
)
