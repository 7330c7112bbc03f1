"""The reporting read models, kept from every topic a batch at a time (see engine.py).

The engine hands :class:`ReadModelProjection` a batch of events, each stream's in version order,
streams interleaved freely: a teacher's hours may come before their school, a request before its
course, a mentor's assignment before the mentee's registration. So every row another stream may
make is made on first touch (counters at zero) and filled in when its own event comes; nothing
relies on foreign keys between streams, and joins happen when reading.

A batch runs in three steps over a :class:`~reporting.unit_of_work.UnitOfWork`: name the rows
its events need (:func:`_need`), load them, apply the events in order in memory
(:func:`_apply`), write the changed rows back with a COPY and an upsert per table. An event
that refers to an earlier event of its own stream the projection never saw raises
:class:`MissingPredecessor`, which fails the batch: the engine isolates the event and sends it to
the dead letters rather than losing money or hours silently.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import (
    CourseBadged,
    CourseBadgeRevoked,
    CourseFeedbackSubmitted,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderDeactivated,
    ProviderRegistered,
    ProviderUpdated,
)
from cpd_events.entitlement_events import (
    BudgetAllocated,
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDRequested,
    CPDWithdrawn,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    EntitlementPolicyPublished,
    FundingCommitted,
    FundingReleased,
    FundingSpent,
    HoursLogCorrected,
    HoursLogged,
    MinimumEntitlementMet,
)
from cpd_events.mentoring_events import (
    LeadMentorDesignated,
    MentorAssigned,
    MentorCapacitySet,
    MentoringSessionLogged,
    MentorRegistered,
    MentorSchoolAdded,
    MentorshipEnded,
    MentorTrainingCompleted,
)
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolLeftTrust,
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
    TrustFundingModelChosen,
    TrustRegistered,
)
from cpd_events.types import academic_year_of
from cpd_eventstore.db import Connection
from reporting.engine import Consumed
from reporting.model import (
    BUDGETS,
    COURSE_FEEDBACK,
    COURSES,
    DEVELOPMENT_PLANS,
    HOURS_LOG,
    MENTORING_SESSIONS,
    MENTORS,
    MENTORSHIPS,
    POLICIES,
    PROVIDERS,
    REQUESTS,
    SCHOOL_ACTIVITY_HOURS,
    SCHOOL_DAYS,
    SCHOOL_TRUSTS,
    SCHOOL_YEARS,
    SCHOOLS,
    TABLES,
    TEACHER_SCHOOLS,
    TEACHER_YEARS,
    TEACHERS,
    TRUSTS,
)
from reporting.unit_of_work import UnitOfWork

ZERO = Decimal(0)


class MissingPredecessor(LookupError):
    """An event refers to an earlier event of its own stream that the projection never saw.

    Within a stream events arrive in order, so this means a bug or a skipped (discarded) event.
    """


class ReadModelProjection:
    """Teacher, school, trust, area and course read models (tables in reporting.model)."""

    name = "read-models"

    def __init__(self, summaries_every_s: float = 30.0) -> None:
        self.summaries_every_s = summaries_every_s
        self._last_summaries = 0.0
        self._summaries_year: str | None = None  # the year of the last refresh of all schools

    async def apply(self, conn: Connection, batch: Sequence[Consumed]) -> None:
        uow = UnitOfWork(TABLES)
        for item in batch:
            _need(uow, item.event)
        await uow.load(conn)
        made_here: dict[tuple[str, str], tuple[str, str]] = {}
        for item in batch:
            _need_through_requests(uow, item.event, made_here)
        await uow.load(conn)
        touched: set[str] = set()
        for item in batch:
            _apply(uow, item.envelope, item.event, touched)
        await uow.flush(conn)
        if touched:
            await conn.execute(
                "insert into dirty_schools select unnest($1::text[]) on conflict do nothing",
                sorted(touched),
            )

    async def settle(self, conn: Connection, caught_up: bool, today: date | None = None) -> int:
        """Refresh the summaries of the schools batches touched; return how many.

        While catching up (a rebuild) at most every ``summaries_every_s``; once caught up, after
        every batch, so school figures follow commands within a batch or two.
        """
        now = time.monotonic()
        if not caught_up and now - self._last_summaries < self.summaries_every_s:
            return 0
        self._last_summaries = now
        from reporting.summaries import refresh_school_summaries

        today = today or datetime.now(UTC).date()
        if caught_up and self._summaries_year != academic_year_of(today):
            # at start and on 1 September: every school's summary moves to the new year
            self._summaries_year = academic_year_of(today)
            return await refresh_school_summaries(conn, None, today)
        urns = [r["urn"] for r in await conn.fetch("select urn from dirty_schools")]
        if not urns:
            return 0
        return await refresh_school_summaries(conn, urns, today)


# Which rows each event reads -------------------------------------------------------------------


def _need(uow: UnitOfWork, event: Event) -> None:
    match event:
        case TrustRegistered() | TrustFundingModelChosen():
            uow.need(TRUSTS, event.trust_id)
        case SchoolRegistered() | SchoolJoinedTrust() | SchoolLeftTrust():
            uow.need(SCHOOLS, event.urn)
        case CPDLeadDesignated():
            if event.school_urn is not None:
                uow.need(SCHOOLS, event.school_urn)
            if event.trust_id is not None:
                uow.need(TRUSTS, event.trust_id)
        case TeacherRegistered() | TeacherMovedSchool() | TeacherLeftProfession():
            uow.need(TEACHERS, event.trn)
        case EntitlementPolicyPublished():
            uow.need(POLICIES, event.academic_year)
        case EntitlementGranted():
            uow.need(TEACHER_YEARS, event.trn, event.academic_year)
        case CPDRequested():
            uow.need(COURSES, event.course_id)
        case CPDApproved() | CPDDeclined() | CPDWithdrawn() | CPDCompleted():
            uow.need(REQUESTS, event.trn, event.request_id)
            if isinstance(event, CPDCompleted):
                uow.need(COURSES, event.course_id)
        case FundingCommitted() | FundingSpent() | FundingReleased():
            uow.need(BUDGETS, event.budget_id)
            if isinstance(event, FundingSpent):
                uow.need(TEACHER_YEARS, event.trn, event.academic_year)
        case BudgetAllocated():
            uow.need(BUDGETS, event.budget_id)
        case HoursLogged():
            uow.need(TEACHER_YEARS, event.trn, event.academic_year)
        case HoursLogCorrected():
            uow.need(HOURS_LOG, event.trn, event.log_id)
            uow.need(TEACHER_YEARS, event.trn, event.academic_year)
        case MinimumEntitlementMet():
            uow.need(TEACHER_YEARS, event.trn, event.academic_year)
        case DevelopmentPlanAgreed():
            uow.need(DEVELOPMENT_PLANS, event.trn)
        case ProviderRegistered() | ProviderUpdated() | ProviderDeactivated():
            uow.need(PROVIDERS, event.provider_id)
        case (
            CourseListed()
            | CourseUpdated()
            | CourseBadged()
            | CourseBadgeRevoked()
            | CourseRetired()
            | CourseFeedbackSubmitted()
        ):
            uow.need(COURSES, event.course_id)
        case (
            MentorRegistered()
            | MentorSchoolAdded()
            | MentorTrainingCompleted()
            | MentorCapacitySet()
            | MentorAssigned()
        ):
            uow.need(MENTORS, event.trn)
        case LeadMentorDesignated():
            uow.need(MENTORS, event.trn)
            if event.replaces_trn is not None:
                uow.need(MENTORS, event.replaces_trn)
        case MentorshipEnded():
            uow.need(MENTORS, event.trn)
            uow.need(MENTORSHIPS, event.trn, event.assignment_id)
        case _:
            pass


def _need_through_requests(
    uow: UnitOfWork, event: Event, made_here: dict[tuple[str, str], tuple[str, str]]
) -> None:
    """Second round: a decision on a request changes the year and course the request names.

    ``made_here`` maps requests made earlier in the batch to their (academic year, course).
    """
    if not isinstance(event, CPDApproved | CPDDeclined | CPDWithdrawn):
        if isinstance(event, CPDRequested):
            made_here[(event.trn, event.request_id)] = (event.academic_year, event.course_id)
        return
    request = uow.get(REQUESTS, event.trn, event.request_id)
    if request is not None:
        year, course = request["academic_year"], request["course_id"]
    elif (event.trn, event.request_id) in made_here:
        year, course = made_here[(event.trn, event.request_id)]
    else:
        return  # unknown request: applying it raises MissingPredecessor
    uow.need(TEACHER_YEARS, event.trn, year)
    uow.need(COURSES, course)


# How each event changes them --------------------------------------------------------------------


def _apply(uow: UnitOfWork, envelope: Envelope, event: Event, touched: set[str]) -> None:
    on = envelope.occurred_at.date()
    match event:
        # registry --------------------------------------------------------------------------
        case TrustRegistered():
            trust = uow.upsert(TRUSTS, (event.trust_id,), {})
            trust.update(name=event.name, region=event.region)
        case TrustFundingModelChosen():
            trust = uow.upsert(TRUSTS, (event.trust_id,), {})
            trust.update(
                funding_model=event.model.value,
                central_share_percent=event.central_share_percent,
                funding_model_from=event.effective_from,
            )
        case SchoolRegistered():
            school = uow.upsert(SCHOOLS, (event.urn,), {})
            school.update(
                name=event.name,
                local_authority=event.local_authority,
                phase=event.phase,
                region=event.region,
                pp50=event.pp50,
                pupils_on_roll=event.pupils_on_roll,
                fsm_percent=event.fsm_percent,
            )
            touched.add(event.urn)
        case SchoolJoinedTrust():
            school = uow.upsert(SCHOOLS, (event.urn,), {})
            _close_membership(uow, school, event.effective_from)
            school.update(trust_id=event.trust_id, trust_joined_on=event.effective_from)
            uow.put(
                SCHOOL_TRUSTS,
                {"urn": event.urn, "joined_on": event.effective_from, "trust_id": event.trust_id},
            )
            touched.add(event.urn)
        case SchoolLeftTrust():
            school = uow.upsert(SCHOOLS, (event.urn,), {})
            if school["trust_id"] == event.trust_id:
                _close_membership(uow, school, event.effective_from)
                school.update(trust_id=None, trust_joined_on=None)
            touched.add(event.urn)
        case CPDLeadDesignated():
            if event.school_urn is not None:
                school = uow.upsert(SCHOOLS, (event.school_urn,), {})
                school.update(cpd_lead_trn=event.trn, cpd_lead_since=event.effective_from)
                touched.add(event.school_urn)
            if event.trust_id is not None:
                uow.upsert(TRUSTS, (event.trust_id,), {})["cpd_lead_trn"] = event.trn
        case TeacherRegistered():
            uow.put(
                TEACHERS,
                {
                    "trn": event.trn,
                    "school_urn": event.school_urn,
                    "given_name": event.given_name,
                    "family_name": event.family_name,
                    "career_stage": event.career_stage.value,
                    "fte": event.fte,
                    "registered_on": event.registered_on,
                    "school_since": event.registered_on,
                },
            )
            uow.put(
                TEACHER_SCHOOLS,
                {
                    "trn": event.trn,
                    "from_date": event.registered_on,
                    "school_urn": event.school_urn,
                },
            )
            touched.add(event.school_urn)
        case TeacherMovedSchool():
            teacher = _existing(uow, TEACHERS, (event.trn,), f"no teacher {event.trn}")
            _close_teacher_school(uow, teacher, event.moved_on)
            teacher.update(school_urn=event.school_urn, school_since=event.moved_on)
            uow.put(
                TEACHER_SCHOOLS,
                {"trn": event.trn, "from_date": event.moved_on, "school_urn": event.school_urn},
            )
            touched.update((event.from_school_urn, event.school_urn))
        case TeacherLeftProfession():
            teacher = _existing(uow, TEACHERS, (event.trn,), f"no teacher {event.trn}")
            _close_teacher_school(uow, teacher, event.left_on)
            teacher["left_on"] = event.left_on
            touched.add(teacher["school_urn"])

        # entitlement -----------------------------------------------------------------------
        case EntitlementPolicyPublished():
            policy = uow.get(POLICIES, event.academic_year)
            if policy is None or event.policy_version > policy["policy_version"]:
                uow.put(POLICIES, event.model_dump(include=set(POLICIES.all_columns)))
        case EntitlementGranted():
            # a later grant (a corrected policy) replaces the entitlement; what was logged stays
            year = uow.upsert(TEACHER_YEARS, (event.trn, event.academic_year), {})
            uow.add(
                SCHOOL_YEARS,
                (event.school_urn, event.academic_year),
                funding_entitled_pence=event.funding_pence - year["funding_entitled_pence"],
                grants=1 if year["policy_version"] is None else 0,
            )
            year.update(
                policy_version=event.policy_version,
                hours_entitled=event.hours,
                funding_entitled_pence=event.funding_pence,
            )
            touched.add(event.school_urn)
        case CPDRequested():
            uow.put(
                REQUESTS,
                {
                    "trn": event.trn,
                    "request_id": event.request_id,
                    "course_id": event.course_id,
                    "school_urn": event.school_urn,
                    "academic_year": event.academic_year,
                    "status": "requested",
                    "cost_pence": event.cost_pence,
                    "expected_hours": event.expected_hours,
                    "requested_at": envelope.occurred_at,
                    "plan_goal": event.plan_goal,
                },
            )
            uow.add(COURSES, (event.course_id,), requests=1)
            _school_fact(uow, event.school_urn, on, event.academic_year, requests=1)
        case CPDApproved():
            request = _request(uow, event.trn, event.request_id)
            request.update(
                status="approved", cost_pence=event.cost_pence, decided_at=envelope.occurred_at
            )
            uow.add(
                TEACHER_YEARS,
                (event.trn, request["academic_year"]),
                funding_committed_pence=event.cost_pence,
            )
            uow.add(COURSES, (request["course_id"],), enrolments=1)
            _school_fact(
                uow,
                request["school_urn"],
                on,
                request["academic_year"],
                approvals=1,
                funding_committed_pence=event.cost_pence,
            )
        case CPDDeclined() | CPDWithdrawn():
            request = _request(uow, event.trn, event.request_id)
            was_approved = request["status"] == "approved"
            declined = isinstance(event, CPDDeclined)
            request.update(
                status="declined" if declined else "withdrawn", decided_at=envelope.occurred_at
            )
            release = request["cost_pence"] if was_approved else 0
            if was_approved:  # an approved request releases the funding it committed
                uow.add(
                    TEACHER_YEARS,
                    (event.trn, request["academic_year"]),
                    funding_committed_pence=-release,
                )
                uow.add(COURSES, (request["course_id"],), enrolments=-1)
            _school_fact(
                uow,
                request["school_urn"],
                on,
                request["academic_year"],
                declines=1 if declined else 0,
                approvals=-1 if was_approved else 0,
                funding_committed_pence=-release,
            )
        case CPDCompleted():
            request = _request(uow, event.trn, event.request_id)
            request.update(status="completed", completed_on=event.completed_on)
            course = uow.add(
                COURSES,
                (event.course_id,),
                completions=1,
                cost_completed_pence=request["cost_pence"],
            )
            course["hours_completed"] += course["hours"] or request["expected_hours"]
            _school_fact(
                uow,
                request["school_urn"],
                event.completed_on,
                request["academic_year"],
                completions=1,
            )
        case BudgetAllocated():
            budget = uow.add(BUDGETS, (event.budget_id,), allocated_pence=event.amount_pence)
            budget.update(
                holder=event.holder,
                trust_id=event.trust_id,
                school_urn=event.school_urn,
                academic_year=event.academic_year,
            )
        case FundingCommitted():
            _budget(uow, event).update(
                committed_pence=_budget(uow, event)["committed_pence"] + event.amount_pence
            )
        case FundingReleased():
            _budget(uow, event)["released_pence"] += event.amount_pence
        case FundingSpent():
            # on a budget's stream, so it may come before or after the approval: it only adds
            _budget(uow, event)["spent_pence"] += event.amount_pence
            uow.add(
                TEACHER_YEARS,
                (event.trn, event.academic_year),
                funding_spent_pence=event.amount_pence,
            )
            _school_fact(
                uow,
                event.school_urn,
                on,
                event.academic_year,
                funding_spent_pence=event.amount_pence,
            )
        case HoursLogged():
            uow.put(
                HOURS_LOG,
                {
                    "trn": event.trn,
                    "log_id": event.log_id,
                    "school_urn": event.school_urn,
                    "academic_year": event.academic_year,
                    "hours": event.hours,
                    "activity_type": event.activity_type.value,
                    "activity_date": event.activity_date,
                    "request_id": event.request_id,
                },
            )
            _log_hours(
                uow,
                event.trn,
                event.school_urn,
                event.academic_year,
                event.activity_type.value,
                event.activity_date,
                event.hours,
            )
            touched.add(event.school_urn)
        case HoursLogCorrected():
            log = _existing(
                uow,
                HOURS_LOG,
                (event.trn, event.log_id),
                f"no hours log {event.log_id} for teacher {event.trn}",
            )
            difference = event.corrected_hours - log["hours"]
            log["hours"] = event.corrected_hours
            _log_hours(
                uow,
                event.trn,
                log["school_urn"],
                log["academic_year"],
                log["activity_type"],
                log["activity_date"],
                difference,
            )
            touched.add(log["school_urn"])
        case MinimumEntitlementMet():
            # once per teacher and year; a later correction below the minimum does not undo it
            year = uow.upsert(TEACHER_YEARS, (event.trn, event.academic_year), {})
            year["minimum_met_on"] = year["minimum_met_on"] or event.met_on
        case DevelopmentPlanAgreed():
            # a new agreement replaces the current plan; the teacher's stream keeps them all
            plan = uow.get(DEVELOPMENT_PLANS, event.trn)
            uow.put(
                DEVELOPMENT_PLANS,
                {
                    "trn": event.trn,
                    "school_urn": event.school_urn,
                    "academic_year": event.academic_year,
                    "until_academic_year": event.until_academic_year,
                    "goals": list(event.goals),
                    "agreed_with": event.agreed_with,
                    "agreed_at": envelope.occurred_at,
                    "plans_agreed": (plan["plans_agreed"] if plan else 0) + 1,
                },
            )

        # catalogue -------------------------------------------------------------------------
        case ProviderRegistered():
            provider = uow.upsert(PROVIDERS, (event.provider_id,), {})
            provider.update(name=event.name, kind=event.kind.value, active=True)
        case ProviderUpdated():
            provider = uow.upsert(PROVIDERS, (event.provider_id,), {})
            if event.name is not None:
                provider["name"] = event.name
            if event.kind is not None:
                provider["kind"] = event.kind.value
        case ProviderDeactivated():
            uow.upsert(PROVIDERS, (event.provider_id,), {})["active"] = False
        case CourseListed():
            course = uow.upsert(COURSES, (event.course_id,), {})
            course.update(
                provider_id=event.provider_id,
                title=event.title,
                kind=event.kind.value,
                npq_type=event.npq_type.value if event.npq_type else None,
                hours=event.hours,
                price_pence=event.price_pence,
                government_funded=event.government_funded,
            )
        case CourseUpdated():
            course = uow.upsert(COURSES, (event.course_id,), {})
            for column in ("title", "hours", "price_pence", "government_funded"):
                value = getattr(event, column)
                if value is not None:
                    course[column] = value
        case CourseBadged():
            course = uow.upsert(COURSES, (event.course_id,), {})
            course.update(badge_level=event.level, badge_expires_on=event.expires_on)
        case CourseBadgeRevoked():
            course = uow.upsert(COURSES, (event.course_id,), {})
            course.update(badge_level=None, badge_expires_on=None)
        case CourseRetired():
            uow.upsert(COURSES, (event.course_id,), {})["retired"] = True
        case CourseFeedbackSubmitted():
            uow.put(
                COURSE_FEEDBACK,
                {
                    "course_id": event.course_id,
                    "trn": event.trn,
                    "rating": event.rating,
                    "submitted_at": envelope.occurred_at,
                },
            )
            uow.add(COURSES, (event.course_id,), ratings=1, rating_total=event.rating)

        # mentoring -------------------------------------------------------------------------
        case MentorRegistered():
            mentor = uow.upsert(MENTORS, (event.trn,), {})
            mentor["school_urn"] = event.school_urn
            touched.add(event.school_urn)
        case MentorSchoolAdded():
            uow.upsert(MENTORS, (event.trn,), {})
        case MentorTrainingCompleted():
            uow.upsert(MENTORS, (event.trn,), {})["trained_on"] = event.completed_on
        case MentorCapacitySet():
            mentor = uow.upsert(MENTORS, (event.trn,), {})
            mentor["max_mentees"] = event.max_mentees
            if mentor["school_urn"]:
                touched.add(mentor["school_urn"])
        case LeadMentorDesignated():
            uow.upsert(MENTORS, (event.trn,), {})["lead_mentor_of"] = event.school_urn
            if event.replaces_trn is not None:
                uow.upsert(MENTORS, (event.replaces_trn,), {})["lead_mentor_of"] = None
        case MentorAssigned():
            uow.put(
                MENTORSHIPS,
                {
                    "mentor_trn": event.trn,
                    "assignment_id": event.assignment_id,
                    "mentee_trn": event.mentee_trn,
                    "school_urn": event.school_urn,
                    "programme": event.programme.value,
                    "starts_on": event.starts_on,
                },
            )
            mentor = uow.add(MENTORS, (event.trn,), active_mentees=1)
            touched.add(event.school_urn)
            if mentor["school_urn"]:
                touched.add(mentor["school_urn"])
        case MentorshipEnded():
            mentorship = _existing(
                uow,
                MENTORSHIPS,
                (event.trn, event.assignment_id),
                f"no assignment {event.assignment_id} for mentor {event.trn}",
            )
            if mentorship["ended_on"] is None:
                mentor = uow.add(MENTORS, (event.trn,), active_mentees=-1)
                if mentor["school_urn"]:
                    touched.add(mentor["school_urn"])
            mentorship["ended_on"] = event.ended_on
            touched.add(mentorship["school_urn"])
        case MentoringSessionLogged():
            uow.put(
                MENTORING_SESSIONS,
                {
                    "mentor_trn": event.trn,
                    "session_id": event.session_id,
                    "assignment_id": event.assignment_id,
                    "mentee_trn": event.mentee_trn,
                    "school_urn": event.school_urn,
                    "academic_year": event.academic_year,
                    "held_on": event.held_on,
                    "minutes": event.minutes,
                    "hours": event.hours,
                },
            )
        case _:
            pass  # events the read models do not need


def _existing(uow: UnitOfWork, table: Any, key: tuple[Any, ...], missing: str) -> dict[str, Any]:
    if uow.get(table, *key) is None:
        raise MissingPredecessor(missing)
    return uow.changed(table, *key)


def _request(uow: UnitOfWork, trn: str, request_id: str) -> dict[str, Any]:
    return _existing(uow, REQUESTS, (trn, request_id), f"no request {request_id} for teacher {trn}")


def _budget(uow: UnitOfWork, event: FundingCommitted | FundingSpent | FundingReleased) -> Any:
    budget = uow.upsert(BUDGETS, (event.budget_id,), {})
    if budget["academic_year"] is None:
        budget.update(
            trust_id=event.trust_id, school_urn=event.school_urn, academic_year=event.academic_year
        )
    return budget


def _school_fact(uow: UnitOfWork, urn: str, day: date, academic_year: str, **amounts: Any) -> None:
    """Add to a school's day and year (the day decides the trust the figure counts for)."""
    uow.add(SCHOOL_DAYS, (urn, day), academic_year=academic_year_of(day), **amounts)
    uow.add(SCHOOL_YEARS, (urn, academic_year), **amounts)


def _log_hours(
    uow: UnitOfWork,
    trn: str,
    urn: str,
    academic_year: str,
    activity_type: str,
    day: date,
    hours: Decimal,
) -> None:
    uow.add(TEACHER_YEARS, (trn, academic_year), hours_logged=hours)
    _school_fact(uow, urn, day, academic_year, hours_logged=hours)
    uow.add(SCHOOL_ACTIVITY_HOURS, (urn, academic_year, activity_type), hours=hours)


def _close_membership(uow: UnitOfWork, school: dict[str, Any], on: date) -> None:
    """End the school's open trust period (its key is on the school row) at ``on``."""
    if school["trust_id"] is not None and school["trust_joined_on"] is not None:
        uow.put(
            SCHOOL_TRUSTS,
            {
                "urn": school["urn"],
                "joined_on": school["trust_joined_on"],
                "trust_id": school["trust_id"],
                "left_on": on,
            },
        )


def _close_teacher_school(uow: UnitOfWork, teacher: dict[str, Any], on: date) -> None:
    uow.put(
        TEACHER_SCHOOLS,
        {
            "trn": teacher["trn"],
            "from_date": teacher["school_since"],
            "school_urn": teacher["school_urn"],
            "to_date": on,
        },
    )


def current_academic_year(today: date | None = None) -> str:
    return academic_year_of(today or datetime.now(UTC).date())
