"""Entitlement's local replica of the catalogue, kept from catalogue events."""

from __future__ import annotations

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import (
    CohortPlaceBooked,
    CohortScheduled,
    CourseListed,
    CourseRetired,
    CourseUpdated,
)
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection, Pool
from entitlement.domain.teacher import CohortOffer, CourseOffer
from entitlement.registry_view import REGISTRY_VIEW_MIGRATIONS

MIGRATIONS = [
    Migration(
        1,
        "catalogue replica",
        """
        create schema if not exists entitlement;
        create table entitlement.courses (
            course_id text primary key,
            title text not null,
            price_pence bigint not null,
            hours numeric(9, 2) not null,
            retired boolean not null default false
        );
        """,
    ),
    Migration(
        2,
        "catalogue replica: cohorts, their capacity and places booked",
        """
        create table entitlement.cohorts (
            cohort_id text primary key,
            course_id text not null,
            starts_on date not null,
            ends_on date not null,
            capacity int not null,
            booked int not null default 0
        );
        """,
    ),
    *REGISTRY_VIEW_MIGRATIONS,  # version 3: the registry view (registry helper)
]


async def replicate_catalogue(conn: Connection, _: Envelope, event: Event) -> None:
    match event:
        case CourseListed():
            await conn.execute(
                """insert into entitlement.courses (course_id, title, price_pence, hours)
                   values ($1, $2, $3, $4)
                   on conflict (course_id) do update set title = excluded.title,
                       price_pence = excluded.price_pence, hours = excluded.hours""",
                event.course_id,
                event.title,
                event.price_pence,
                event.hours,
            )
        case CourseUpdated():
            await conn.execute(
                """update entitlement.courses set title = coalesce($2, title),
                       price_pence = coalesce($3, price_pence), hours = coalesce($4, hours)
                   where course_id = $1""",
                event.course_id,
                event.title,
                event.price_pence,
                event.hours,
            )
        case CourseRetired():
            await conn.execute(
                "update entitlement.courses set retired = true where course_id = $1",
                event.course_id,
            )
        case CohortScheduled():
            await conn.execute(
                """insert into entitlement.cohorts (cohort_id, course_id, starts_on, ends_on,
                       capacity)
                   values ($1, $2, $3, $4, $5)
                   on conflict (cohort_id) do update set course_id = excluded.course_id,
                       starts_on = excluded.starts_on, ends_on = excluded.ends_on,
                       capacity = excluded.capacity""",
                event.cohort_id,
                event.course_id,
                event.starts_on,
                event.ends_on,
                event.capacity,
            )
        case CohortPlaceBooked():
            # bookings are on the cohort's own stream, after its CohortScheduled: the consumer
            # applies each once and in order, so the row exists
            await conn.execute(
                "update entitlement.cohorts set booked = booked + 1 where cohort_id = $1",
                event.cohort_id,
            )


async def course_offer(pool: Pool, course_id: str) -> CourseOffer | None:
    row = await pool.fetchrow(
        "select course_id, title, price_pence, hours, retired from entitlement.courses"
        " where course_id = $1",
        course_id,
    )
    return CourseOffer(**dict(row)) if row else None


async def cohort_offer(pool: Pool, cohort_id: str) -> CohortOffer | None:
    row = await pool.fetchrow(
        "select cohort_id, course_id, starts_on, capacity, booked from entitlement.cohorts"
        " where cohort_id = $1",
        cohort_id,
    )
    return CohortOffer(**dict(row)) if row else None
