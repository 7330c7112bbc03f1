"""A teacher's entitlement, CPD requests and hours (stream ``teacher-<trn>``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from cpd_events import Event
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.entitlement_events import (
    CPDApproved,
    CPDRequested,
    EntitlementGranted,
    EntitlementPolicyPublished,
    HoursLogged,
)
from cpd_events.registry_events import TeacherLeftProfession, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, hours

EARLY_CAREER = frozenset({CareerStage.TRAINEE, CareerStage.ECT_YEAR_1, CareerStage.ECT_YEAR_2})


@dataclass(frozen=True)
class Request:
    course_id: str
    academic_year: str
    cost_pence: int
    status: str = "requested"


@dataclass(frozen=True)
class Teacher:
    registered: bool = False
    trn: str = ""
    school_urn: str = ""
    career_stage: CareerStage = CareerStage.EXPERIENCED
    fte: Decimal = Decimal(100)
    left: bool = False
    grants: dict[str, EntitlementGranted] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    log_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CourseOffer:
    """What entitlement knows of a catalogue course (its local replica of catalogue events)."""

    course_id: str
    title: str
    price_pence: int
    hours: Decimal
    retired: bool


@dataclass(frozen=True)
class RegisterTeacher:
    details: TeacherRegistered
    school_registered: bool


@dataclass(frozen=True)
class GrantEntitlement:
    academic_year: str
    policy: EntitlementPolicyPublished | None
    school_pp50: bool


@dataclass(frozen=True)
class RequestCPD:
    request_id: str
    academic_year: str
    course_id: str
    course: CourseOffer | None
    reason: str = ""


@dataclass(frozen=True)
class ApproveCPD:
    request_id: str
    approved_by: str


@dataclass(frozen=True)
class LogHours:
    log_id: str
    academic_year: str
    hours: Decimal
    activity_type: ActivityType
    activity_date: date
    request_id: str | None = None
    description: str = ""


TeacherCommand = RegisterTeacher | GrantEntitlement | RequestCPD | ApproveCPD | LogHours


def teacher_stream(trn: str) -> str:
    return f"teacher-{trn}"


def evolve_teacher(state: Teacher, event: Event) -> Teacher:
    match event:
        case TeacherRegistered():
            return replace(
                state,
                registered=True,
                trn=event.trn,
                school_urn=event.school_urn,
                career_stage=event.career_stage,
                fte=event.fte,
            )
        case TeacherLeftProfession():
            return replace(state, left=True)
        case EntitlementGranted():
            return replace(state, grants={**state.grants, event.academic_year: event})
        case CPDRequested():
            request = Request(event.course_id, event.academic_year, event.cost_pence)
            return replace(state, requests={**state.requests, event.request_id: request})
        case CPDApproved():
            approved = replace(state.requests[event.request_id], status="approved")
            return replace(state, requests={**state.requests, event.request_id: approved})
        case HoursLogged():
            return replace(state, log_ids=state.log_ids | {event.log_id})
    return state


def entitlement_for(
    policy: EntitlementPolicyPublished, stage: CareerStage, fte: Decimal, pp50: bool
) -> tuple[Decimal, int]:
    """Hours and funding (pence) of one teacher for a year under a policy, pro rata to FTE."""
    share = fte / 100
    funding = Decimal(policy.base_funding_per_fte_pence) * share
    if pp50:
        funding *= 1 + policy.pp50_uplift_percent / 100
    if stage in EARLY_CAREER:
        funding *= 1 + policy.early_career_uplift_percent / 100
    pence = int(funding.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return hours(policy.minimum_hours * share), pence


def _active(state: Teacher) -> None:
    if not state.registered:
        raise RuleBroken("no such teacher: register the teacher first", Rule.NOT_FOUND, "trn")
    if state.left:
        raise RuleBroken(f"teacher {state.trn} has left the profession", Rule.CONFLICT, "trn")


def decide_teacher(command: TeacherCommand, state: Teacher) -> Sequence[Event]:
    match command:
        case RegisterTeacher():
            if state.registered:
                raise RuleBroken("teacher is registered already", Rule.CONFLICT, "trn")
            if not command.school_registered:
                raise RuleBroken(
                    f"school {command.details.school_urn} is not registered",
                    Rule.NOT_FOUND,
                    "school_urn",
                )
            return [command.details]
        case GrantEntitlement():
            _active(state)
            if command.policy is None:
                raise RuleBroken(
                    f"no entitlement policy is published for {command.academic_year}",
                    Rule.NOT_FOUND,
                    "academic_year",
                )
            granted = state.grants.get(command.academic_year)
            if granted is not None and granted.policy_version == command.policy.policy_version:
                raise RuleBroken(
                    f"entitlement for {command.academic_year} is granted already",
                    Rule.CONFLICT,
                    "academic_year",
                )
            entitled_hours, funding = entitlement_for(
                command.policy, state.career_stage, state.fte, command.school_pp50
            )
            return [
                EntitlementGranted(
                    trn=state.trn,
                    school_urn=state.school_urn,
                    academic_year=command.academic_year,
                    policy_version=command.policy.policy_version,
                    hours=entitled_hours,
                    funding_pence=funding,
                )
            ]
        case RequestCPD():
            _active(state)
            if command.request_id in state.requests:
                raise RuleBroken("request id is used already", Rule.CONFLICT, "request_id")
            if command.course is None:
                raise RuleBroken(
                    f"no course {command.course_id} in the catalogue", Rule.NOT_FOUND, "course_id"
                )
            if command.course.retired:
                raise RuleBroken(
                    f"course {command.course_id} is retired", Rule.INVALID, "course_id"
                )
            if command.academic_year not in state.grants:
                raise RuleBroken(
                    f"no entitlement granted for {command.academic_year}",
                    Rule.CONFLICT,
                    "academic_year",
                )
            return [
                CPDRequested(
                    request_id=command.request_id,
                    trn=state.trn,
                    school_urn=state.school_urn,
                    course_id=command.course_id,
                    academic_year=command.academic_year,
                    cost_pence=command.course.price_pence,
                    expected_hours=command.course.hours,
                    reason=command.reason,
                )
            ]
        case ApproveCPD():
            _active(state)
            request = state.requests.get(command.request_id)
            if request is None:
                raise RuleBroken("no such request", Rule.NOT_FOUND, "request_id")
            if request.status != "requested":
                raise RuleBroken(
                    f"request {command.request_id} is {request.status} already",
                    Rule.CONFLICT,
                    "request_id",
                )
            return [
                CPDApproved(
                    request_id=command.request_id,
                    trn=state.trn,
                    school_urn=state.school_urn,
                    approved_by=command.approved_by,
                    cost_pence=request.cost_pence,
                )
            ]
        case LogHours():
            _active(state)
            if command.log_id in state.log_ids:
                raise RuleBroken("log id is used already", Rule.CONFLICT, "log_id")
            if command.request_id is not None:
                linked = state.requests.get(command.request_id)
                if linked is None or linked.status != "approved":
                    raise RuleBroken(
                        "hours can be linked only to an approved request",
                        Rule.CONFLICT,
                        "request_id",
                    )
            return [
                HoursLogged(
                    log_id=command.log_id,
                    trn=state.trn,
                    school_urn=state.school_urn,
                    academic_year=command.academic_year,
                    hours=command.hours,
                    activity_type=command.activity_type,
                    activity_date=command.activity_date,
                    request_id=command.request_id,
                    description=command.description,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


teacher_decider: Decider[Teacher, TeacherCommand] = Decider(Teacher, evolve_teacher, decide_teacher)
