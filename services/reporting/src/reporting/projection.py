"""The reporting read model: relational tables in schema ``reporting``, kept from every topic.

One handler, :func:`apply`, runs inside the idempotent consumer's transaction: the consumer
applies each event once and in order within its stream, but streams interleave freely (a teacher's
hours may arrive before their school, a mentor's assignment before the mentee's registration, a
course after the request for it). So every statement that touches a row another stream may create
is an upsert, and nothing here relies on foreign keys between streams; joins happen when reading.

Identifiers chosen per stream are keyed with their stream's owner: a request or an hours log is
unique within its teacher (``trn``), an assignment within its mentor (``mentor_trn``).
"""

from __future__ import annotations

from decimal import Decimal

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import (
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderRegistered,
)
from cpd_events.entitlement_events import (
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDRequested,
    CPDWithdrawn,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    EntitlementPolicyPublished,
    FundingSpent,
    HoursLogCorrected,
    HoursLogged,
    MinimumEntitlementMet,
)
from cpd_events.mentoring_events import (
    MentorAssigned,
    MentoringSessionLogged,
    MentorshipEnded,
)
from cpd_events.registry_events import (
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection

NAMESPACE = "reporting"
ZERO = Decimal(0)

MIGRATIONS = [
    Migration(
        1,
        "teacher record: schools, teachers, policies, years, requests, hours, courses, mentors",
        """
        create schema if not exists reporting;

        create table reporting.schools (
            urn text primary key,
            name text not null,
            local_authority text not null,
            phase text not null,
            region text,
            pp50 boolean not null default false
        );

        create table reporting.teachers (
            trn text primary key,
            school_urn text not null,
            given_name text not null,
            family_name text not null,
            career_stage text not null,
            fte numeric(5, 2) not null,
            registered_on date not null,
            left_on date
        );
        create index teachers_school on reporting.teachers (school_urn);

        -- the latest version of each academic year's policy
        create table reporting.policies (
            academic_year text primary key,
            policy_version int not null,
            minimum_hours numeric(9, 2) not null,
            base_funding_per_fte_pence bigint not null,
            pp50_uplift_percent numeric(5, 2) not null,
            early_career_uplift_percent numeric(5, 2) not null,
            effective_from date not null
        );

        -- one row per teacher and year: created by a grant or by the first hours logged
        create table reporting.teacher_years (
            trn text not null,
            academic_year text not null,
            policy_version int,
            hours_entitled numeric(9, 2) not null default 0,
            funding_entitled_pence bigint not null default 0,
            hours_logged numeric(9, 2) not null default 0 check (hours_logged >= 0),
            funding_committed_pence bigint not null default 0
                check (funding_committed_pence >= 0),
            funding_spent_pence bigint not null default 0 check (funding_spent_pence >= 0),
            primary key (trn, academic_year)
        );

        create table reporting.teacher_requests (
            trn text not null,
            request_id text not null,
            course_id text not null,
            academic_year text not null,
            status text not null
                check (status in ('requested', 'approved', 'declined', 'withdrawn', 'completed')),
            cost_pence bigint not null,
            expected_hours numeric(9, 2) not null,
            requested_at timestamptz not null,
            primary key (trn, request_id)
        );
        create index teacher_requests_course on reporting.teacher_requests (course_id);

        create table reporting.hours_log (
            trn text not null,
            log_id text not null,
            academic_year text not null,
            hours numeric(9, 2) not null check (hours >= 0),
            activity_type text not null,
            activity_date date not null,
            request_id text,
            primary key (trn, log_id)
        );

        create table reporting.providers (
            provider_id text primary key,
            name text not null,
            kind text not null
        );

        create table reporting.courses (
            course_id text primary key,
            provider_id text not null,
            title text not null,
            kind text not null,
            hours numeric(9, 2) not null,
            price_pence bigint not null,
            retired boolean not null default false
        );

        create table reporting.mentorships (
            mentor_trn text not null,
            assignment_id text not null,
            mentee_trn text not null,
            school_urn text not null,
            programme text not null,
            starts_on date not null,
            ended_on date,
            primary key (mentor_trn, assignment_id)
        );
        create index mentorships_mentee on reporting.mentorships (mentee_trn);
        """,
    ),
    Migration(
        2,
        "mentoring sessions, for mentoring hours on the teacher record",
        """
        create table reporting.mentoring_sessions (
            mentor_trn text not null,
            session_id text not null,
            assignment_id text not null,
            mentee_trn text not null,
            academic_year text not null,
            held_on date not null,
            minutes int not null,
            hours numeric(9, 2) not null,
            primary key (mentor_trn, session_id)
        );
        create index mentoring_sessions_mentee on reporting.mentoring_sessions (mentee_trn);
        """,
    ),
    Migration(
        3,
        "teacher record: minimum met, development plan, plan goals of requests",
        """
        alter table reporting.teacher_years add column minimum_met_on date;
        alter table reporting.teacher_requests add column plan_goal text;

        -- the teacher's current plan (the latest agreed) and how many they have agreed
        create table reporting.development_plans (
            trn text primary key,
            school_urn text not null,
            academic_year text not null,
            until_academic_year text,
            goals text[] not null,
            agreed_with text not null,
            agreed_at timestamptz not null,
            plans_agreed int not null default 1
        );
        """,
    ),
]


class MissingPredecessor(LookupError):
    """An event refers to an earlier event of its own stream that the projection never saw.

    Within a stream the consumer applies events in order, so this means a bug or a skipped
    (discarded) event: raising sends the event to the dead letters rather than losing money or
    hours silently.
    """


async def apply(conn: Connection, envelope: Envelope, event: Event) -> None:
    """Apply one event to the read model (inside the consumer's transaction)."""
    match event:
        # registry ------------------------------------------------------------------------
        case SchoolRegistered():
            await conn.execute(
                """insert into reporting.schools (urn, name, local_authority, phase, region, pp50)
                   values ($1, $2, $3, $4, $5, $6)
                   on conflict (urn) do update set name = excluded.name,
                       local_authority = excluded.local_authority, phase = excluded.phase,
                       region = excluded.region, pp50 = excluded.pp50""",
                event.urn,
                event.name,
                event.local_authority,
                event.phase,
                event.region,
                event.pp50,
            )
        case TeacherRegistered():
            await conn.execute(
                """insert into reporting.teachers (trn, school_urn, given_name, family_name,
                       career_stage, fte, registered_on)
                   values ($1, $2, $3, $4, $5, $6, $7)
                   on conflict (trn) do update set school_urn = excluded.school_urn,
                       given_name = excluded.given_name, family_name = excluded.family_name,
                       career_stage = excluded.career_stage, fte = excluded.fte,
                       registered_on = excluded.registered_on""",
                event.trn,
                event.school_urn,
                event.given_name,
                event.family_name,
                event.career_stage.value,
                event.fte,
                event.registered_on,
            )
        case TeacherMovedSchool():
            # The record follows the teacher: years, hours and requests are keyed by TRN only.
            status = await conn.execute(
                "update reporting.teachers set school_urn = $2 where trn = $1",
                event.trn,
                event.school_urn,
            )
            _found(status, f"no teacher {event.trn}")
        case TeacherLeftProfession():
            status = await conn.execute(
                "update reporting.teachers set left_on = $2 where trn = $1",
                event.trn,
                event.left_on,
            )
            _found(status, f"no teacher {event.trn}")

        # entitlement ---------------------------------------------------------------------
        case EntitlementPolicyPublished():
            await conn.execute(
                """insert into reporting.policies (academic_year, policy_version, minimum_hours,
                       base_funding_per_fte_pence, pp50_uplift_percent,
                       early_career_uplift_percent, effective_from)
                   values ($1, $2, $3, $4, $5, $6, $7)
                   on conflict (academic_year) do update set
                       policy_version = excluded.policy_version,
                       minimum_hours = excluded.minimum_hours,
                       base_funding_per_fte_pence = excluded.base_funding_per_fte_pence,
                       pp50_uplift_percent = excluded.pp50_uplift_percent,
                       early_career_uplift_percent = excluded.early_career_uplift_percent,
                       effective_from = excluded.effective_from
                   where excluded.policy_version > reporting.policies.policy_version""",
                event.academic_year,
                event.policy_version,
                event.minimum_hours,
                event.base_funding_per_fte_pence,
                event.pp50_uplift_percent,
                event.early_career_uplift_percent,
                event.effective_from,
            )
        case EntitlementGranted():
            # A later grant for the same year (a corrected policy) replaces the entitlement;
            # hours and funding already recorded against the year stay.
            await conn.execute(
                """insert into reporting.teacher_years (trn, academic_year, policy_version,
                       hours_entitled, funding_entitled_pence)
                   values ($1, $2, $3, $4, $5)
                   on conflict (trn, academic_year) do update set
                       policy_version = excluded.policy_version,
                       hours_entitled = excluded.hours_entitled,
                       funding_entitled_pence = excluded.funding_entitled_pence""",
                event.trn,
                event.academic_year,
                event.policy_version,
                event.hours,
                event.funding_pence,
            )
        case CPDRequested():
            await conn.execute(
                """insert into reporting.teacher_requests (trn, request_id, course_id,
                       academic_year, status, cost_pence, expected_hours, requested_at, plan_goal)
                   values ($1, $2, $3, $4, 'requested', $5, $6, $7, $8)""",
                event.trn,
                event.request_id,
                event.course_id,
                event.academic_year,
                event.cost_pence,
                event.expected_hours,
                envelope.occurred_at,
                event.plan_goal,
            )
        case CPDApproved():
            # The approval carries the cost committed, which is what the year's figure counts.
            year = await conn.fetchval(
                """update reporting.teacher_requests set status = 'approved', cost_pence = $3
                    where trn = $1 and request_id = $2
                returning academic_year""",
                event.trn,
                event.request_id,
                event.cost_pence,
            )
            if year is None:
                raise MissingPredecessor(f"no request {event.request_id} for teacher {event.trn}")
            await _add_to_year(conn, event.trn, year, committed_pence=event.cost_pence)
        case CPDDeclined() | CPDWithdrawn():
            status = "declined" if isinstance(event, CPDDeclined) else "withdrawn"
            await _close_request(conn, event.trn, event.request_id, status)
        case CPDCompleted():
            status = await conn.execute(
                "update reporting.teacher_requests set status = 'completed'"
                " where trn = $1 and request_id = $2",
                event.trn,
                event.request_id,
            )
            _found(status, f"no request {event.request_id} for teacher {event.trn}")
        case FundingSpent():
            # on a budget's stream: may arrive before or after the approval (another stream),
            # so it only adds to spent; the record shows committed minus spent
            await conn.execute(
                """insert into reporting.teacher_years (trn, academic_year, funding_spent_pence)
                   values ($1, $2, $3)
                   on conflict (trn, academic_year) do update set funding_spent_pence
                       = reporting.teacher_years.funding_spent_pence
                         + excluded.funding_spent_pence""",
                event.trn,
                event.academic_year,
                event.amount_pence,
            )
        case HoursLogged():
            await conn.execute(
                """insert into reporting.hours_log (trn, log_id, academic_year, hours,
                       activity_type, activity_date, request_id)
                   values ($1, $2, $3, $4, $5, $6, $7)""",
                event.trn,
                event.log_id,
                event.academic_year,
                event.hours,
                event.activity_type.value,
                event.activity_date,
                event.request_id,
            )
            await _add_to_year(conn, event.trn, event.academic_year, hours=event.hours)
        case HoursLogCorrected():
            row = await conn.fetchrow(
                """with old as (
                       select academic_year, hours from reporting.hours_log
                        where trn = $1 and log_id = $2 for update)
                   update reporting.hours_log h set hours = $3
                     from old where h.trn = $1 and h.log_id = $2
                   returning old.academic_year, $3 - old.hours as difference""",
                event.trn,
                event.log_id,
                event.corrected_hours,
            )
            if row is None:
                raise MissingPredecessor(f"no hours log {event.log_id} for teacher {event.trn}")
            await _adjust_year(conn, event.trn, row["academic_year"], hours=row["difference"])

        # the year's minimum and the development plan (lifecycle helper) ------------------
        case MinimumEntitlementMet():
            # once per teacher and year; a later correction below the minimum does not undo it
            await conn.execute(
                """insert into reporting.teacher_years (trn, academic_year, minimum_met_on)
                   values ($1, $2, $3)
                   on conflict (trn, academic_year) do update set minimum_met_on =
                       coalesce(reporting.teacher_years.minimum_met_on, excluded.minimum_met_on)""",
                event.trn,
                event.academic_year,
                event.met_on,
            )
        case DevelopmentPlanAgreed():
            # a new agreement replaces the current plan; the teacher's stream keeps them all
            await conn.execute(
                """insert into reporting.development_plans (trn, school_urn, academic_year,
                       until_academic_year, goals, agreed_with, agreed_at)
                   values ($1, $2, $3, $4, $5, $6, $7)
                   on conflict (trn) do update set school_urn = excluded.school_urn,
                       academic_year = excluded.academic_year,
                       until_academic_year = excluded.until_academic_year,
                       goals = excluded.goals, agreed_with = excluded.agreed_with,
                       agreed_at = excluded.agreed_at,
                       plans_agreed = reporting.development_plans.plans_agreed + 1""",
                event.trn,
                event.school_urn,
                event.academic_year,
                event.until_academic_year,
                list(event.goals),
                event.agreed_with,
                envelope.occurred_at,
            )

        # catalogue -----------------------------------------------------------------------
        case ProviderRegistered():
            await conn.execute(
                """insert into reporting.providers (provider_id, name, kind) values ($1, $2, $3)
                   on conflict (provider_id) do update set name = excluded.name,
                       kind = excluded.kind""",
                event.provider_id,
                event.name,
                event.kind,
            )
        case CourseListed():
            await conn.execute(
                """insert into reporting.courses (course_id, provider_id, title, kind, hours,
                       price_pence)
                   values ($1, $2, $3, $4, $5, $6)
                   on conflict (course_id) do update set provider_id = excluded.provider_id,
                       title = excluded.title, kind = excluded.kind, hours = excluded.hours,
                       price_pence = excluded.price_pence""",
                event.course_id,
                event.provider_id,
                event.title,
                event.kind.value,
                event.hours,
                event.price_pence,
            )
        case CourseUpdated():
            await conn.execute(
                """update reporting.courses set title = coalesce($2, title),
                       hours = coalesce($3, hours), price_pence = coalesce($4, price_pence)
                   where course_id = $1""",
                event.course_id,
                event.title,
                event.hours,
                event.price_pence,
            )
        case CourseRetired():
            await conn.execute(
                "update reporting.courses set retired = true where course_id = $1",
                event.course_id,
            )

        # mentoring -----------------------------------------------------------------------
        case MentorAssigned():
            await conn.execute(
                """insert into reporting.mentorships (mentor_trn, assignment_id, mentee_trn,
                       school_urn, programme, starts_on)
                   values ($1, $2, $3, $4, $5, $6)""",
                event.trn,
                event.assignment_id,
                event.mentee_trn,
                event.school_urn,
                event.programme.value,
                event.starts_on,
            )
        case MentorshipEnded():
            status = await conn.execute(
                "update reporting.mentorships set ended_on = $3"
                " where mentor_trn = $1 and assignment_id = $2",
                event.trn,
                event.assignment_id,
                event.ended_on,
            )
            _found(status, f"no assignment {event.assignment_id} for mentor {event.trn}")
        case MentoringSessionLogged():
            await conn.execute(
                """insert into reporting.mentoring_sessions (mentor_trn, session_id,
                       assignment_id, mentee_trn, academic_year, held_on, minutes, hours)
                   values ($1, $2, $3, $4, $5, $6, $7, $8)""",
                event.trn,
                event.session_id,
                event.assignment_id,
                event.mentee_trn,
                event.academic_year,
                event.held_on,
                event.minutes,
                event.hours,
            )
        case _:
            pass  # events the read model does not need yet


def _found(command_status: str, missing: str) -> None:
    """Fail loudly when an update found no row: its stream's earlier event was never applied."""
    if command_status.endswith(" 0"):
        raise MissingPredecessor(missing)


async def _close_request(conn: Connection, trn: str, request_id: str, status: str) -> None:
    """Decline or withdraw a request; an approved one releases the funding it committed."""
    row = await conn.fetchrow(
        """with old as (
               select status, academic_year, cost_pence from reporting.teacher_requests
                where trn = $1 and request_id = $2 for update)
           update reporting.teacher_requests r set status = $3
             from old where r.trn = $1 and r.request_id = $2
           returning old.status, old.academic_year, old.cost_pence""",
        trn,
        request_id,
        status,
    )
    if row is None:
        raise MissingPredecessor(f"no request {request_id} for teacher {trn}")
    if row["status"] == "approved":
        await _adjust_year(conn, trn, row["academic_year"], committed_pence=-row["cost_pence"])


async def _add_to_year(
    conn: Connection,
    trn: str,
    academic_year: str,
    *,
    hours: Decimal = ZERO,
    committed_pence: int = 0,
) -> None:
    """Add to a teacher's year, creating the row (nothing entitled yet) if no grant came first.

    Hours may arrive before the grant (another stream, or a grant made later in the year).
    """
    await conn.execute(
        """insert into reporting.teacher_years (trn, academic_year, hours_logged,
               funding_committed_pence)
           values ($1, $2, $3, $4)
           on conflict (trn, academic_year) do update set
               hours_logged = reporting.teacher_years.hours_logged + excluded.hours_logged,
               funding_committed_pence = reporting.teacher_years.funding_committed_pence
                   + excluded.funding_committed_pence""",
        trn,
        academic_year,
        hours,
        committed_pence,
    )


async def _adjust_year(
    conn: Connection,
    trn: str,
    academic_year: str,
    *,
    hours: Decimal = ZERO,
    committed_pence: int = 0,
) -> None:
    """Change a teacher's year by a signed amount: the row exists (an earlier event made it)."""
    status = await conn.execute(
        """update reporting.teacher_years
              set hours_logged = hours_logged + $3,
                  funding_committed_pence = funding_committed_pence + $4
            where trn = $1 and academic_year = $2""",
        trn,
        academic_year,
        hours,
        committed_pence,
    )
    _found(status, f"no {academic_year} year for teacher {trn}")
