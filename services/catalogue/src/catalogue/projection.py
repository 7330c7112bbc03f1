"""The catalogue's read model, kept by one idempotent consumer of two topics.

From its own topic (``cpd.catalogue.events``): providers, courses with every searchable field,
badges, retirement, cohorts and ratings. From entitlement's (``cpd.entitlement.events``): CPD
requests, approvals and completions per course (uptake), and who completed what, which the
feedback command checks. One subscription for both topics: one consumer group joins at startup.

Events of different streams may arrive in any order (a rating before its course's listing,
an approval's course known only from its request), so no table refers to another by a foreign
key and counts are taken when asked.
"""

from __future__ import annotations

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import (
    CohortPlaceBooked,
    CohortScheduled,
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
from cpd_events.entitlement_events import CPDApproved, CPDCompleted, CPDRequested
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection

#: The consumer's name under the service (``catalogue.read-model``), also its consumer group.
READ_MODEL = "read-model"

MIGRATIONS = [
    Migration(
        1,
        "read model: providers, courses, cohorts, uptake, completions, feedback",
        """
        create schema if not exists catalogue;

        create table catalogue.providers (
            provider_id text primary key,
            name text not null,
            kind text not null,
            active boolean not null default true
        );

        create table catalogue.courses (
            course_id text primary key,
            provider_id text not null,
            title text not null,
            kind text not null,
            npq_type text,
            subjects text[] not null default '{}',
            subject_keys text[] not null default '{}',   -- lower case, for filtering
            phases text[] not null default '{}',
            phase_keys text[] not null default '{}',
            career_stages text[] not null default '{}',
            hours numeric(9, 2) not null,
            price_pence bigint not null,
            government_funded boolean not null,
            delivery_mode text not null,
            evidence_summary text not null,
            badge_level text,
            badge_expires_on date,
            badge_revoked boolean not null default false,
            retired boolean not null default false,
            search tsvector generated always as (
                setweight(to_tsvector('english', title), 'A')
                || setweight(to_tsvector('english', coalesce(npq_type, '')), 'A')
                || setweight(to_tsvector('english', evidence_summary), 'B')
            ) stored
        );
        create index courses_search on catalogue.courses using gin (search);
        create index courses_subjects on catalogue.courses using gin (subject_keys);
        create index courses_phases on catalogue.courses using gin (phase_keys);
        create index courses_career_stages on catalogue.courses using gin (career_stages);
        create index courses_provider on catalogue.courses (provider_id);
        create index courses_kind on catalogue.courses (kind, price_pence);

        create table catalogue.cohorts (
            cohort_id text primary key,
            course_id text not null,
            starts_on date not null,
            ends_on date not null,
            capacity int not null,
            booked int not null default 0
        );
        create index cohorts_course on catalogue.cohorts (course_id, starts_on);

        create table catalogue.cpd_requests (
            trn text not null,
            request_id text not null,
            course_id text not null,
            approved boolean not null default false,
            completed boolean not null default false,
            primary key (trn, request_id)
        );
        create index cpd_requests_course on catalogue.cpd_requests (course_id);

        create table catalogue.completions (
            trn text not null,
            course_id text not null,
            completed_on date not null,
            primary key (trn, course_id)
        );

        create table catalogue.feedback (
            course_id text not null,
            trn text not null,
            rating smallint not null check (rating between 1 and 5),
            impact_note text not null,
            submitted_at timestamptz not null,
            primary key (course_id, trn)
        );
        """,
    )
]


def _keys(values: list[str]) -> list[str]:
    return sorted({value.strip().lower() for value in values})


async def project(conn: Connection, envelope: Envelope, event: Event) -> None:
    """Apply one event to the read model (inside the consumer's transaction)."""
    match event:
        # providers ---------------------------------------------------------------------
        case ProviderRegistered():
            await conn.execute(
                """insert into catalogue.providers (provider_id, name, kind) values ($1, $2, $3)
                   on conflict (provider_id) do update set name = excluded.name,
                       kind = excluded.kind""",
                event.provider_id,
                event.name,
                event.kind.value,
            )
        case ProviderUpdated():
            await conn.execute(
                """update catalogue.providers set name = coalesce($2, name),
                       kind = coalesce($3, kind) where provider_id = $1""",
                event.provider_id,
                event.name,
                event.kind.value if event.kind else None,
            )
        case ProviderDeactivated():
            await conn.execute(
                "update catalogue.providers set active = false where provider_id = $1",
                event.provider_id,
            )

        # courses -----------------------------------------------------------------------
        case CourseListed():
            await conn.execute(
                """insert into catalogue.courses (course_id, provider_id, title, kind, npq_type,
                       subjects, subject_keys, phases, phase_keys, career_stages, hours,
                       price_pence, government_funded, delivery_mode, evidence_summary)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                   on conflict (course_id) do update set provider_id = excluded.provider_id,
                       title = excluded.title, kind = excluded.kind,
                       npq_type = excluded.npq_type, subjects = excluded.subjects,
                       subject_keys = excluded.subject_keys, phases = excluded.phases,
                       phase_keys = excluded.phase_keys, career_stages = excluded.career_stages,
                       hours = excluded.hours, price_pence = excluded.price_pence,
                       government_funded = excluded.government_funded,
                       delivery_mode = excluded.delivery_mode,
                       evidence_summary = excluded.evidence_summary""",
                event.course_id,
                event.provider_id,
                event.title,
                event.kind.value,
                event.npq_type.value if event.npq_type else None,
                event.subjects,
                _keys(event.subjects),
                event.phases,
                _keys(event.phases),
                [stage.value for stage in event.career_stages],
                event.hours,
                event.price_pence,
                event.government_funded,
                event.delivery_mode,
                event.evidence_summary,
            )
        case CourseUpdated():
            await conn.execute(
                """update catalogue.courses set title = coalesce($2, title),
                       subjects = coalesce($3, subjects),
                       subject_keys = coalesce($4, subject_keys),
                       phases = coalesce($5, phases), phase_keys = coalesce($6, phase_keys),
                       career_stages = coalesce($7, career_stages), hours = coalesce($8, hours),
                       price_pence = coalesce($9, price_pence),
                       government_funded = coalesce($10, government_funded),
                       delivery_mode = coalesce($11, delivery_mode),
                       evidence_summary = coalesce($12, evidence_summary)
                   where course_id = $1""",
                event.course_id,
                event.title,
                event.subjects,
                None if event.subjects is None else _keys(event.subjects),
                event.phases,
                None if event.phases is None else _keys(event.phases),
                None if event.career_stages is None else [s.value for s in event.career_stages],
                event.hours,
                event.price_pence,
                event.government_funded,
                event.delivery_mode,
                event.evidence_summary,
            )
        case CourseBadged():
            await conn.execute(
                """update catalogue.courses set badge_level = $2, badge_expires_on = $3,
                       badge_revoked = false where course_id = $1""",
                event.course_id,
                event.level,
                event.expires_on,
            )
        case CourseBadgeRevoked():
            await conn.execute(
                """update catalogue.courses set badge_level = null, badge_expires_on = null,
                       badge_revoked = true where course_id = $1""",
                event.course_id,
            )
        case CourseRetired():
            await conn.execute(
                "update catalogue.courses set retired = true where course_id = $1",
                event.course_id,
            )

        # cohorts and feedback ----------------------------------------------------------
        case CohortScheduled():
            await conn.execute(
                """insert into catalogue.cohorts (cohort_id, course_id, starts_on, ends_on,
                       capacity) values ($1, $2, $3, $4, $5)
                   on conflict (cohort_id) do nothing""",
                event.cohort_id,
                event.course_id,
                event.starts_on,
                event.ends_on,
                event.capacity,
            )
        case CohortPlaceBooked():
            await conn.execute(
                "update catalogue.cohorts set booked = booked + 1 where cohort_id = $1",
                event.cohort_id,
            )
        case CourseFeedbackSubmitted():
            await conn.execute(
                """insert into catalogue.feedback (course_id, trn, rating, impact_note,
                       submitted_at) values ($1, $2, $3, $4, $5)
                   on conflict (course_id, trn) do nothing""",
                event.course_id,
                event.trn,
                event.rating,
                event.impact_note,
                envelope.occurred_at,
            )

        # uptake, from entitlement ------------------------------------------------------
        case CPDRequested():
            await conn.execute(
                """insert into catalogue.cpd_requests (trn, request_id, course_id)
                   values ($1, $2, $3) on conflict (trn, request_id) do nothing""",
                event.trn,
                event.request_id,
                event.course_id,
            )
        case CPDApproved():
            await conn.execute(
                """update catalogue.cpd_requests set approved = true
                   where trn = $1 and request_id = $2""",
                event.trn,
                event.request_id,
            )
        case CPDCompleted():
            await conn.execute(
                """insert into catalogue.cpd_requests (trn, request_id, course_id, completed)
                   values ($1, $2, $3, true)
                   on conflict (trn, request_id) do update set completed = true""",
                event.trn,
                event.request_id,
                event.course_id,
            )
            await conn.execute(
                """insert into catalogue.completions (trn, course_id, completed_on)
                   values ($1, $2, $3) on conflict (trn, course_id)
                   do update set completed_on = greatest(catalogue.completions.completed_on,
                       excluded.completed_on)""",
                event.trn,
                event.course_id,
                event.completed_on,
            )
