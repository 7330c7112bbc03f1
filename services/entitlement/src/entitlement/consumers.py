"""Entitlement's local replica of the catalogue, kept from catalogue events."""

from __future__ import annotations

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import CourseListed, CourseRetired, CourseUpdated
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection, Pool
from entitlement.domain.teacher import CourseOffer

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
    )
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


async def course_offer(pool: Pool, course_id: str) -> CourseOffer | None:
    row = await pool.fetchrow(
        "select course_id, title, price_pence, hours, retired from entitlement.courses"
        " where course_id = $1",
        course_id,
    )
    return CourseOffer(**dict(row)) if row else None
