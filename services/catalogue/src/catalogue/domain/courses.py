"""Courses: listed under an active provider, updated, badged for quality, retired at the end.

A retired course stays readable (flagged ``retired``) but changes no more. A badge is valid
through its ``expires_on``; after that it has lapsed, which readers compute from today's date
(:func:`badge_status`): no event marks a lapse.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from catalogue.domain.providers import PROVIDER_EVENTS, Provider, evolve_provider
from cpd_events.catalogue_events import (
    CourseBadged,
    CourseBadgeRevoked,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    npq_type_problem,
)
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import CareerStage, CourseKind, NpqType


@dataclass(frozen=True)
class Badge:
    level: str
    expires_on: date


class BadgeStatus(StrEnum):
    BADGED = "badged"  # a badge valid today
    LAPSED = "lapsed"  # its badge expired before today
    REVOKED = "revoked"  # its last badge was revoked
    NONE = "none"  # never badged


@dataclass(frozen=True)
class Course:
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: NpqType | None
    subjects: tuple[str, ...]
    phases: tuple[str, ...]
    career_stages: tuple[CareerStage, ...]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    evidence_summary: str
    badge: Badge | None = None
    badge_revoked: bool = False
    retired: bool = False
    retirement_reason: str | None = None


def badge_status(course: Course, today: date) -> BadgeStatus:
    if course.badge is not None:
        return BadgeStatus.BADGED if today <= course.badge.expires_on else BadgeStatus.LAPSED
    return BadgeStatus.REVOKED if course.badge_revoked else BadgeStatus.NONE


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ListCourse:
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: NpqType | None = None
    subjects: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    career_stages: tuple[CareerStage, ...] = ()
    hours: Decimal
    price_pence: int
    government_funded: bool = False
    delivery_mode: str = "blended"
    evidence_summary: str = ""


@dataclass(frozen=True, kw_only=True)
class UpdateCourse:
    """Fields left ``None`` stay as they are; kind, NPQ type and provider never change."""

    course_id: str
    title: str | None = None
    subjects: tuple[str, ...] | None = None
    phases: tuple[str, ...] | None = None
    career_stages: tuple[CareerStage, ...] | None = None
    hours: Decimal | None = None
    price_pence: int | None = None
    government_funded: bool | None = None
    delivery_mode: str | None = None
    evidence_summary: str | None = None


UPDATABLE = tuple(f.name for f in fields(UpdateCourse) if f.name != "course_id")


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


@dataclass(frozen=True)
class RevokeBadge:
    course_id: str
    reason: str
    today: date


CourseCommand = UpdateCourse | RetireCourse | BadgeCourse | RevokeBadge


# --- one course's stream ----------------------------------------------------------------------


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


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
            career_stages=tuple(event.career_stages),
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
            name: _as_tuple(value)
            for name in UPDATABLE
            if (value := getattr(event, name)) is not None
        }
        return replace(state, **changes)
    if isinstance(event, CourseBadged):
        badge = Badge(level=event.level, expires_on=event.expires_on)
        return replace(state, badge=badge, badge_revoked=False)
    if isinstance(event, CourseBadgeRevoked):
        return replace(state, badge=None, badge_revoked=True)
    if isinstance(event, CourseRetired):
        return replace(state, retired=True, retirement_reason=event.reason)
    return state


def listed(course_id: str, state: Course | None, field: str | None = None) -> Course:
    if state is None:
        raise RuleBroken(f"course {course_id} is not listed", Rule.NOT_FOUND, field)
    return state


def not_retired(course: Course) -> Course:
    if course.retired:
        raise RuleBroken(f"course {course.course_id} is retired", Rule.CONFLICT)
    return course


def _update(command: UpdateCourse, course: Course) -> list[Event]:
    given = {name: getattr(command, name) for name in UPDATABLE}
    if all(value is None for value in given.values()):
        raise RuleBroken("nothing to update: give at least one field", Rule.INVALID)
    changed = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in given.items()
        if value is not None and value != getattr(course, name)
    }
    if not changed:
        return []  # the course says so already: repeating an update changes nothing
    return [CourseUpdated(course_id=course.course_id, **changed)]


def decide_course(command: CourseCommand, state: Course | None) -> list[Event]:
    course = not_retired(listed(command.course_id, state))
    match command:
        case UpdateCourse():
            return _update(command, course)
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
        case RevokeBadge():
            status = badge_status(course, command.today)
            if status != BadgeStatus.BADGED:
                why = {
                    BadgeStatus.LAPSED: "its badge lapsed already",
                    BadgeStatus.REVOKED: "its badge is revoked already",
                    BadgeStatus.NONE: "it has no badge",
                }[status]
                raise RuleBroken(f"course {course.course_id}: {why}", Rule.CONFLICT)
            if not command.reason.strip():
                raise RuleBroken("say why the badge is revoked", Rule.INVALID, "reason")
            return [CourseBadgeRevoked(course_id=course.course_id, reason=command.reason)]


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
    if isinstance(event, PROVIDER_EVENTS):
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
    if not state.provider.active:
        raise RuleBroken(
            f"provider {command.provider_id} is deactivated: it lists no new courses",
            Rule.CONFLICT,
            "provider_id",
        )
    if problem := npq_type_problem(command.kind, command.npq_type):
        raise RuleBroken(problem, Rule.INVALID, "npq_type")
    return [
        CourseListed(
            course_id=command.course_id,
            provider_id=command.provider_id,
            title=command.title,
            kind=command.kind,
            npq_type=command.npq_type,
            subjects=list(command.subjects),
            phases=list(command.phases),
            career_stages=list(command.career_stages),
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
