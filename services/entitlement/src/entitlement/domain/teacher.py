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
    CPDCompleted,
    CPDDeclined,
    CPDRequested,
    CPDWithdrawn,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    EntitlementPolicyPublished,
    FundingShare,
    HoursLogCorrected,
    HoursLogged,
    MinimumEntitlementMet,
)
from cpd_events.registry_events import (
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_events.types import ActivityType, CareerStage, academic_year_of, hours
from entitlement.domain.budget import pounds
from entitlement.domain.funding import Arrangement, approver_role, pots

EARLY_CAREER = frozenset({CareerStage.TRAINEE, CareerStage.ECT_YEAR_1, CareerStage.ECT_YEAR_2})


@dataclass(frozen=True)
class Request:
    course_id: str
    academic_year: str
    cost_pence: int
    status: str = "requested"
    funding: tuple[FundingShare, ...] = ()  # the budgets committed on approval (funding helper)


@dataclass(frozen=True)
class LogEntry:
    """One hours log as it stands (corrections applied)."""

    academic_year: str
    activity_date: date
    hours: Decimal
    capped: bool = True  # counts against its day's cap (a completed course's hours do not)


@dataclass(frozen=True)
class Teacher:
    registered: bool = False
    trn: str = ""
    school_urn: str = ""
    career_stage: CareerStage = CareerStage.EXPERIENCED
    fte: Decimal = Decimal(100)
    registered_on: date | None = None  # for pro-rata grants (funding helper)
    left: bool = False
    grants: dict[str, EntitlementGranted] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    # teacher lifecycle (lifecycle helper): hours, plan, minimum, leaving
    logs: dict[str, LogEntry] = field(default_factory=dict)
    minimum_met: frozenset[str] = frozenset()  # academic years whose minimum was met
    plans: tuple[DevelopmentPlanAgreed, ...] = ()  # every plan agreed, the current one last
    left_on: date | None = None

    @property
    def log_ids(self) -> frozenset[str]:
        return frozenset(self.logs)

    @property
    def plan(self) -> DevelopmentPlanAgreed | None:
        """The current development plan: the latest agreed (it moves with the teacher)."""
        return self.plans[-1] if self.plans else None

    def hours_in(self, academic_year: str) -> Decimal:
        """Hours logged for a year, as corrected."""
        return sum(
            (e.hours for e in self.logs.values() if e.academic_year == academic_year), Decimal(0)
        )

    def hours_on(self, day: date, excluding: str | None = None) -> Decimal:
        """Hours logged for activity on one day that count against the daily cap."""
        return sum(
            (
                e.hours
                for log_id, e in self.logs.items()
                if e.activity_date == day and e.capped and log_id != excluding
            ),
            Decimal(0),
        )


@dataclass(frozen=True)
class CourseOffer:
    """What entitlement knows of a catalogue course (its local replica of catalogue events)."""

    course_id: str
    title: str
    price_pence: int
    hours: Decimal
    retired: bool


@dataclass(frozen=True)
class CohortOffer:
    """A run of a catalogue course as entitlement's replica knows it: capacity and places booked."""

    cohort_id: str
    course_id: str
    starts_on: date
    capacity: int
    booked: int

    @property
    def full(self) -> bool:
        return self.booked >= self.capacity


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
    plan_goal: str | None = None  # a goal of the teacher's current development plan
    cohort_id: str | None = None
    cohort: CohortOffer | None = None  # the replica's cohort ``cohort_id``, if it knows it


@dataclass(frozen=True)
class ApproveCPD:
    """Approve a request: ``arrangement`` says which pot(s) pay (None: the school's own budget);
    when ``approver_trn`` is given it must be one of ``approvers`` (the CPD lead(s) allowed)."""

    request_id: str
    approved_by: str
    approver_trn: str | None = None
    approvers: frozenset[str] = frozenset()
    arrangement: Arrangement | None = None


@dataclass(frozen=True)
class LogHours:
    log_id: str
    academic_year: str
    hours: Decimal
    activity_type: ActivityType
    activity_date: date
    request_id: str | None = None
    description: str = ""
    evidence_url: str | None = None
    reflection: str = ""
    source: str | None = None  # set when the service logs hours itself (mentoring)
    today: date | None = None  # the application's date; None only where no clock applies


@dataclass(frozen=True)
class DeclineCPD:
    """Decline a requested CPD: when ``decliner_trn`` is given it must be one of ``approvers``
    (the CPD lead(s) who decide the school's requests, as for approvals)."""

    request_id: str
    declined_by: str
    reason: str
    decliner_trn: str | None = None
    approvers: frozenset[str] = frozenset()
    approver_role: str = "the school's CPD lead"


@dataclass(frozen=True)
class WithdrawCPD:
    request_id: str
    reason: str = ""


@dataclass(frozen=True)
class CompleteCPD:
    request_id: str
    completed_on: date
    today: date | None = None


@dataclass(frozen=True)
class CorrectHours:
    log_id: str
    corrected_hours: Decimal
    reason: str


@dataclass(frozen=True)
class MoveSchool:
    school_urn: str
    moved_on: date
    school_registered: bool


@dataclass(frozen=True)
class LeaveProfession:
    left_on: date
    reason: str = ""


@dataclass(frozen=True)
class AgreePlan:
    academic_year: str
    goals: tuple[str, ...]
    agreed_with: str
    until_academic_year: str | None = None


TeacherCommand = (
    RegisterTeacher
    | GrantEntitlement
    | RequestCPD
    | ApproveCPD
    | LogHours
    | DeclineCPD
    | WithdrawCPD
    | CompleteCPD
    | CorrectHours
    | MoveSchool
    | LeaveProfession
    | AgreePlan
)


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
                registered_on=event.registered_on,
            )
        case TeacherLeftProfession():
            return replace(state, left=True, left_on=event.left_on)
        case TeacherMovedSchool():
            return replace(state, school_urn=event.school_urn)
        case EntitlementGranted():
            return replace(state, grants={**state.grants, event.academic_year: event})
        case CPDRequested():
            request = Request(event.course_id, event.academic_year, event.cost_pence)
            return replace(state, requests={**state.requests, event.request_id: request})
        case CPDApproved():
            approved = replace(
                state.requests[event.request_id], status="approved", funding=tuple(event.funding)
            )
            return replace(state, requests={**state.requests, event.request_id: approved})
        case HoursLogged():
            entry = LogEntry(
                event.academic_year, event.activity_date, event.hours, counts_against_cap(event)
            )
            return replace(state, logs={**state.logs, event.log_id: entry})
        case _:
            return evolve_lifecycle(state, event)
    return state


# --- grants and approval funding (funding helper) -------------------------------------------

#: Statuses whose cost counts against the teacher's entitlement funding for the year.
FUNDED_STATUSES = frozenset({"approved", "completed"})
FULL_YEAR = Decimal(100)


def entitlement_for(
    policy: EntitlementPolicyPublished,
    stage: CareerStage,
    fte: Decimal,
    pp50: bool,
    pro_rata_percent: Decimal = FULL_YEAR,
) -> tuple[Decimal, int]:
    """Hours and funding (pence) of one teacher for a year under a policy, pro rata to FTE and
    to the part of the year they are registered for; each is rounded once, half up."""
    share = fte / 100 * pro_rata_percent / 100
    funding = Decimal(policy.base_funding_per_fte_pence) * share
    if pp50:
        funding *= 1 + policy.pp50_uplift_percent / 100
    if stage in EARLY_CAREER:
        funding *= 1 + policy.early_career_uplift_percent / 100
    pence = int(funding.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return hours(policy.minimum_hours * share), pence


def academic_year_days(academic_year: str) -> tuple[date, date]:
    """First and last day of an academic year: ``2025/26`` -> 2025-09-01, 2026-08-31."""
    start = int(academic_year[:4])
    return date(start, 9, 1), date(start + 1, 8, 31)


def pro_rata_percent(
    academic_year: str, effective_from: date, registered_on: date | None
) -> Decimal | None:
    """The share of the year's entitlement of a teacher registered on ``registered_on``.

    Registered on or before the later of the policy's effective date and the year's first day:
    100. Registered later in the year: the days left in the year (counting the day of
    registration) over the days in the year, as a percentage rounded half up to two places.
    Registered after the year ended: None (nothing to grant).
    """
    first, last = academic_year_days(academic_year)
    if registered_on is None or registered_on <= max(first, effective_from):
        return FULL_YEAR
    if registered_on > last:
        return None
    left = (last - registered_on).days + 1
    total = (last - first).days + 1
    return (Decimal(left * 100) / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def funding_left(state: Teacher, academic_year: str, excluding: str | None = None) -> int:
    """The teacher's entitlement funding for a year not yet taken by approved requests."""
    grant = state.grants.get(academic_year)
    granted = grant.funding_pence if grant is not None else 0
    taken = sum(
        r.cost_pence
        for rid, r in state.requests.items()
        if r.academic_year == academic_year and r.status in FUNDED_STATUSES and rid != excluding
    )
    return granted - taken


def grant_decision(command: GrantEntitlement, state: Teacher) -> Sequence[Event]:
    _active(state)
    policy = command.policy
    if policy is None:
        raise RuleBroken(
            f"no entitlement policy is published for {command.academic_year}",
            Rule.NOT_FOUND,
            "academic_year",
        )
    granted = state.grants.get(command.academic_year)
    if granted is not None and granted.policy_version == policy.policy_version:
        raise RuleBroken(
            f"entitlement for {command.academic_year} is granted already",
            Rule.CONFLICT,
            "academic_year",
        )
    percent = pro_rata_percent(command.academic_year, policy.effective_from, state.registered_on)
    if percent is None:
        raise RuleBroken(
            f"teacher {state.trn} registered on {state.registered_on}, after"
            f" {command.academic_year} ended",
            Rule.CONFLICT,
            "academic_year",
        )
    entitled_hours, funding = entitlement_for(
        policy, state.career_stage, state.fte, command.school_pp50, percent
    )
    return [
        EntitlementGranted(
            trn=state.trn,
            school_urn=state.school_urn,
            academic_year=command.academic_year,
            policy_version=policy.policy_version,
            hours=entitled_hours,
            funding_pence=funding,
            pro_rata_percent=percent,
        )
    ]


def approval_decision(command: ApproveCPD, state: Teacher) -> Sequence[Event]:
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
    arrangement = command.arrangement or Arrangement(state.school_urn)
    if command.approver_trn is not None and command.approver_trn not in command.approvers:
        raise RuleBroken(
            f"teacher {command.approver_trn} may not approve: requests of school"
            f" {arrangement.school_urn} are approved by {approver_role(arrangement)}",
            Rule.CONFLICT,
            "approver_trn",
        )
    left = funding_left(state, request.academic_year, excluding=command.request_id)
    if request.cost_pence > left:
        raise RuleBroken(
            f"request {command.request_id} needs {pounds(request.cost_pence)} but teacher"
            f" {state.trn} has {pounds(left)} of their {request.academic_year} entitlement"
            " funding left",
            Rule.CONFLICT,
            "request_id",
        )
    funding = pots(arrangement, request.academic_year, request.cost_pence)
    return [
        CPDApproved(
            request_id=command.request_id,
            trn=state.trn,
            school_urn=state.school_urn,
            approved_by=command.approved_by,
            approver_trn=command.approver_trn,
            funded_from_budget_id=funding[0].budget_id if funding else None,
            funding=funding,
            cost_pence=request.cost_pence,
        )
    ]


# --- end of the funding helper's section ------------------------------------------------------


def _active(state: Teacher) -> None:
    if not state.registered:
        raise RuleBroken("no such teacher: register the teacher first", Rule.NOT_FOUND, "trn")
    if state.left:
        raise RuleBroken(f"teacher {state.trn} has left the profession", Rule.CONFLICT, "trn")


def decide_teacher(command: TeacherCommand, state: Teacher) -> Sequence[Event]:
    """Decide a command; append ``MinimumEntitlementMet`` when its events first bring a year's
    logged hours to the hours granted for it (see :func:`minimum_reached`)."""
    events = _decide_command(command, state)
    return [*events, *minimum_reached(state, events)]


def _decide_command(command: TeacherCommand, state: Teacher) -> Sequence[Event]:
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
            return grant_decision(command, state)
        case RequestCPD():
            return request_decision(command, state)
        case ApproveCPD():
            return approval_decision(command, state)
        case LogHours():
            return hours_decision(command, state)
        case (
            DeclineCPD()
            | WithdrawCPD()
            | CompleteCPD()
            | CorrectHours()
            | MoveSchool()
            | LeaveProfession()
            | AgreePlan()
        ):
            return lifecycle_decision(command, state)
    raise TypeError(f"unknown command {command!r}")


# --- teacher lifecycle (lifecycle helper): requests, hours, plan, moves, leaving ---------------
#
# Rules (each refusal names the field at fault):
#
# - requests: the course is in the catalogue replica and not retired; a named cohort is known,
#   runs that course and has a place left; the year's entitlement is granted; a cited
#   ``plan_goal`` is a goal of the current development plan. Only a requested one is declined
#   (with a reason, by a CPD lead who decides the school's requests); a requested or approved
#   one is withdrawn; only an approved one is completed, not on a future date.
# - hours: more than 0; the activity date not in the future and inside the academic year named
#   (1 September to 31 August); at most 12 hours a day for one teacher across all their logs
#   (hours of a whole completed course, from mentor training, are not one day's activity and do
#   not count against the cap); linked only to an approved or completed request. A correction
#   is a new event about a known log, with a reason, never an edit; it obeys the same daily cap
#   and may set a log to 0 (an entry made by mistake).
# - minimum: the decision that first brings a year's logged hours to the hours granted for it
#   also appends ``MinimumEntitlementMet``; once per year: a later correction below the minimum
#   does not retract it (the event records a fact that was true; reporting shows the hours).
# - moves: to another registered school, not before registration; requests, grants, hours and
#   the plan stay on the teacher's stream, so they follow the teacher; later events carry the
#   new school.
# - leaving: not before registration; afterwards every command about the teacher is refused.
# - development plan: 1 to 20 distinct goals agreed with the CPD lead, for one year or several
#   (``until_academic_year``); a new agreement replaces the current plan (the stream keeps every
#   earlier one) and cannot start before the current plan's first year.

#: At most this many hours a day for one teacher, across all their logs.
MAX_HOURS_PER_DAY = Decimal(12)
#: ``HoursLogged.source`` prefixes of hours the service logs itself.
MENTORING_SESSION_SOURCE = "mentoring-session"
MENTOR_TRAINING_SOURCE = "mentor-training"
MAX_PLAN_GOALS = 20


def counts_against_cap(event: HoursLogged) -> bool:
    """A completed mentor training's hours span the course, not the day they are logged on."""
    return not (event.source or "").startswith(MENTOR_TRAINING_SOURCE + ":")


def evolve_lifecycle(state: Teacher, event: Event) -> Teacher:
    match event:
        case CPDDeclined() | CPDWithdrawn() | CPDCompleted():
            request = state.requests.get(event.request_id)
            if request is None:
                return state
            if isinstance(event, CPDDeclined):
                closed = replace(request, status="declined")
            elif isinstance(event, CPDWithdrawn):
                closed = replace(request, status="withdrawn")
            else:
                closed = replace(request, status="completed")
            return replace(state, requests={**state.requests, event.request_id: closed})
        case HoursLogCorrected():
            entry = state.logs.get(event.log_id)
            if entry is None:
                return state
            corrected = replace(entry, hours=event.corrected_hours)
            return replace(state, logs={**state.logs, event.log_id: corrected})
        case MinimumEntitlementMet():
            return replace(state, minimum_met=state.minimum_met | {event.academic_year})
        case DevelopmentPlanAgreed():
            return replace(state, plans=(*state.plans, event))
    return state


def minimum_reached(state: Teacher, events: Sequence[Event]) -> list[MinimumEntitlementMet]:
    """``MinimumEntitlementMet`` for each year whose logged hours ``events`` first bring to the
    hours granted for it (hours logged or corrected, or a grant made once the hours are in)."""
    after = state
    for event in events:
        after = evolve_teacher(after, event)
    years = {
        e.academic_year
        for e in events
        if isinstance(e, HoursLogged | HoursLogCorrected | EntitlementGranted)
    }
    met = []
    for year in sorted(years):
        grant = after.grants.get(year)
        if grant is None or year in after.minimum_met:
            continue
        logged = after.hours_in(year)
        if logged >= grant.hours and any(e.academic_year == year for e in after.logs.values()):
            met.append(
                MinimumEntitlementMet(
                    trn=after.trn,
                    school_urn=after.school_urn,
                    academic_year=year,
                    minimum_hours=grant.hours,
                    hours_logged=logged,
                    met_on=_met_on(after, year, grant.hours),
                )
            )
    return met


def _met_on(state: Teacher, academic_year: str, minimum: Decimal) -> date:
    """The activity date on which the year's hours, added up in date order, reach ``minimum``."""
    days = [e for e in state.logs.values() if e.academic_year == academic_year]
    total = Decimal(0)
    for entry in sorted(days, key=lambda e: e.activity_date):
        total += entry.hours
        if total >= minimum:
            return entry.activity_date
    return max(e.activity_date for e in days)


def request_decision(command: RequestCPD, state: Teacher) -> Sequence[Event]:
    _active(state)
    if command.request_id in state.requests:
        raise RuleBroken("request id is used already", Rule.CONFLICT, "request_id")
    course = command.course
    if course is None:
        raise RuleBroken(
            f"no course {command.course_id} in the catalogue", Rule.NOT_FOUND, "course_id"
        )
    if course.retired:
        raise RuleBroken(f"course {command.course_id} is retired", Rule.INVALID, "course_id")
    if command.cohort_id is not None:
        _check_cohort(command.cohort_id, command.cohort, course)
    if command.academic_year not in state.grants:
        raise RuleBroken(
            f"no entitlement granted for {command.academic_year}", Rule.CONFLICT, "academic_year"
        )
    if command.plan_goal is not None:
        _check_plan_goal(command.plan_goal, state.plan)
    return [
        CPDRequested(
            request_id=command.request_id,
            trn=state.trn,
            school_urn=state.school_urn,
            course_id=command.course_id,
            academic_year=command.academic_year,
            cost_pence=course.price_pence,
            expected_hours=course.hours,
            reason=command.reason,
            plan_goal=command.plan_goal,
            cohort_id=command.cohort_id,
        )
    ]


def _check_cohort(cohort_id: str, cohort: CohortOffer | None, course: CourseOffer) -> None:
    if cohort is None:
        raise RuleBroken(f"no cohort {cohort_id} in the catalogue", Rule.NOT_FOUND, "cohort_id")
    if cohort.course_id != course.course_id:
        raise RuleBroken(
            f"cohort {cohort_id} runs course {cohort.course_id}, not {course.course_id}",
            Rule.INVALID,
            "cohort_id",
        )
    if cohort.full:
        raise RuleBroken(
            f"cohort {cohort_id} is full ({cohort.booked} of {cohort.capacity} places booked)",
            Rule.CONFLICT,
            "cohort_id",
        )


def _check_plan_goal(goal: str, plan: DevelopmentPlanAgreed | None) -> None:
    if plan is None:
        raise RuleBroken(
            "no development plan is agreed: agree a plan before citing its goals",
            Rule.INVALID,
            "plan_goal",
        )
    if goal not in plan.goals:
        raise RuleBroken(
            f"{goal!r} is not a goal of the current development plan"
            f" (goals: {'; '.join(plan.goals)})",
            Rule.INVALID,
            "plan_goal",
        )


def hours_decision(command: LogHours, state: Teacher) -> Sequence[Event]:
    _active(state)
    if command.log_id in state.logs:
        raise RuleBroken("log id is used already", Rule.CONFLICT, "log_id")
    if command.hours <= 0:
        raise RuleBroken(f"hours must be more than 0, not {command.hours}", Rule.INVALID, "hours")
    day = command.activity_date
    if command.today is not None and day > command.today:
        raise RuleBroken(
            f"activity_date {day} is in the future (today is {command.today})",
            Rule.INVALID,
            "activity_date",
        )
    if academic_year_of(day) != command.academic_year:
        first, last = academic_year_days(command.academic_year)
        raise RuleBroken(
            f"activity_date {day} is outside academic year {command.academic_year}"
            f" ({first} to {last})",
            Rule.INVALID,
            "activity_date",
        )
    source = command.source or ""
    capped = not source.startswith(MENTOR_TRAINING_SOURCE + ":")
    if capped:
        _check_day(state, day, command.hours, "hours")
    if command.request_id is not None:
        linked = state.requests.get(command.request_id)
        if linked is None or linked.status not in ("approved", "completed"):
            raise RuleBroken(
                "hours can be linked only to an approved request (or a completed one)",
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
            activity_date=day,
            request_id=command.request_id,
            description=command.description,
            evidence_url=command.evidence_url,
            reflection=command.reflection,
            source=command.source,
        )
    ]


def _check_day(
    state: Teacher, day: date, amount: Decimal, field_name: str, excluding: str | None = None
) -> None:
    total = state.hours_on(day, excluding) + amount
    if total > MAX_HOURS_PER_DAY:
        raise RuleBroken(
            f"{day} would have {hours(total)} hours logged: at most {MAX_HOURS_PER_DAY} a day"
            f" ({hours(state.hours_on(day, excluding))} logged already)",
            Rule.INVALID,
            field_name,
        )


def lifecycle_decision(
    command: DeclineCPD
    | WithdrawCPD
    | CompleteCPD
    | CorrectHours
    | MoveSchool
    | LeaveProfession
    | AgreePlan,
    state: Teacher,
) -> Sequence[Event]:
    _active(state)
    match command:
        case DeclineCPD():
            return _decline(command, state)
        case WithdrawCPD():
            _request(state, command.request_id, "requested", "approved")
            return [
                CPDWithdrawn(
                    request_id=command.request_id,
                    trn=state.trn,
                    school_urn=state.school_urn,
                    reason=command.reason,
                )
            ]
        case CompleteCPD():
            return [completion(command, state)]
        case CorrectHours():
            return _correct(command, state)
        case MoveSchool():
            return _move(command, state)
        case LeaveProfession():
            _not_before_registration(state, command.left_on, "left_on")
            return [
                TeacherLeftProfession(
                    trn=state.trn,
                    school_urn=state.school_urn,
                    left_on=command.left_on,
                    reason=command.reason,
                )
            ]
        case AgreePlan():
            return _agree_plan(command, state)
    raise TypeError(f"unknown command {command!r}")


def _request(state: Teacher, request_id: str, *allowed: str) -> Request:
    request = state.requests.get(request_id)
    if request is None:
        raise RuleBroken(f"no request {request_id}", Rule.NOT_FOUND, "request_id")
    if request.status not in allowed:
        raise RuleBroken(
            f"request {request_id} is {request.status}; it must be {' or '.join(allowed)}",
            Rule.CONFLICT,
            "request_id",
        )
    return request


def _decline(command: DeclineCPD, state: Teacher) -> Sequence[Event]:
    if not command.reason.strip():
        raise RuleBroken("a decline needs a reason", Rule.INVALID, "reason")
    _request(state, command.request_id, "requested")
    if command.decliner_trn is not None and command.decliner_trn not in command.approvers:
        raise RuleBroken(
            f"teacher {command.decliner_trn} may not decline: requests of school"
            f" {state.school_urn} are decided by {command.approver_role}",
            Rule.CONFLICT,
            "decliner_trn",
        )
    return [
        CPDDeclined(
            request_id=command.request_id,
            trn=state.trn,
            school_urn=state.school_urn,
            declined_by=command.declined_by,
            reason=command.reason,
            decliner_trn=command.decliner_trn,
        )
    ]


def completion(command: CompleteCPD, state: Teacher) -> CPDCompleted:
    """The ``CPDCompleted`` of an approved request (the teacher is active).

    Pure and public so that the funding side can pair it with ``FundingSpent`` for each budget
    the approval committed (``state.requests[request_id].funding``) in the same transaction.
    """
    request = _request(state, command.request_id, "approved")
    if command.today is not None and command.completed_on > command.today:
        raise RuleBroken(
            f"completed_on {command.completed_on} is in the future (today is {command.today})",
            Rule.INVALID,
            "completed_on",
        )
    return CPDCompleted(
        request_id=command.request_id,
        trn=state.trn,
        school_urn=state.school_urn,
        course_id=request.course_id,
        completed_on=command.completed_on,
    )


def _correct(command: CorrectHours, state: Teacher) -> Sequence[Event]:
    entry = state.logs.get(command.log_id)
    if entry is None:
        raise RuleBroken(f"no hours log {command.log_id}", Rule.NOT_FOUND, "log_id")
    if not command.reason.strip():
        raise RuleBroken("a correction needs a reason", Rule.INVALID, "reason")
    if command.corrected_hours < 0:
        raise RuleBroken(
            f"corrected_hours cannot be negative ({command.corrected_hours})",
            Rule.INVALID,
            "corrected_hours",
        )
    if command.corrected_hours == entry.hours:
        raise RuleBroken(
            f"log {command.log_id} records {entry.hours} hours already",
            Rule.CONFLICT,
            "corrected_hours",
        )
    if entry.capped:
        _check_day(
            state, entry.activity_date, command.corrected_hours, "corrected_hours", command.log_id
        )
    return [
        HoursLogCorrected(
            log_id=command.log_id,
            trn=state.trn,
            school_urn=state.school_urn,
            academic_year=entry.academic_year,
            corrected_hours=command.corrected_hours,
            reason=command.reason,
        )
    ]


def _not_before_registration(state: Teacher, day: date, field_name: str) -> None:
    if state.registered_on is not None and day < state.registered_on:
        raise RuleBroken(
            f"{field_name} {day} is before the teacher registered ({state.registered_on})",
            Rule.INVALID,
            field_name,
        )


def _move(command: MoveSchool, state: Teacher) -> Sequence[Event]:
    if command.school_urn == state.school_urn:
        raise RuleBroken(
            f"teacher {state.trn} is at school {state.school_urn} already",
            Rule.CONFLICT,
            "school_urn",
        )
    if not command.school_registered:
        raise RuleBroken(
            f"school {command.school_urn} is not registered", Rule.NOT_FOUND, "school_urn"
        )
    _not_before_registration(state, command.moved_on, "moved_on")
    return [
        TeacherMovedSchool(
            trn=state.trn,
            from_school_urn=state.school_urn,
            school_urn=command.school_urn,
            moved_on=command.moved_on,
        )
    ]


def _agree_plan(command: AgreePlan, state: Teacher) -> Sequence[Event]:
    goals = [goal.strip() for goal in command.goals]
    if not 1 <= len(goals) <= MAX_PLAN_GOALS:
        raise RuleBroken(
            f"a development plan lists 1 to {MAX_PLAN_GOALS} goals, not {len(goals)}",
            Rule.INVALID,
            "goals",
        )
    if any(not goal for goal in goals):
        raise RuleBroken("a goal cannot be empty", Rule.INVALID, "goals")
    repeated = sorted({goal for goal in goals if goals.count(goal) > 1})
    if repeated:
        raise RuleBroken(
            f"goals must differ: {'; '.join(repeated)} is listed twice", Rule.INVALID, "goals"
        )
    until = command.until_academic_year
    if until is not None and until < command.academic_year:
        raise RuleBroken(
            f"until_academic_year {until} is before academic_year {command.academic_year}",
            Rule.INVALID,
            "until_academic_year",
        )
    current = state.plan
    if current is not None and command.academic_year < current.academic_year:
        raise RuleBroken(
            f"the current plan starts in {current.academic_year}: a new plan cannot start"
            f" earlier ({command.academic_year})",
            Rule.CONFLICT,
            "academic_year",
        )
    return [
        DevelopmentPlanAgreed(
            trn=state.trn,
            school_urn=state.school_urn,
            academic_year=command.academic_year,
            goals=goals,
            agreed_with=command.agreed_with,
            until_academic_year=until,
        )
    ]


# --- end of the lifecycle helper's section ----------------------------------------------------


teacher_decider: Decider[Teacher, TeacherCommand] = Decider(Teacher, evolve_teacher, decide_teacher)
