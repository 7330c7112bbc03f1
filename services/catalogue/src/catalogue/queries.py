"""Queries over the catalogue's read model (see :mod:`catalogue.projection`).

The read model follows the topics, so it may lag a command by the relay and consumer delay
(tens of milliseconds). A badge's status is computed with the date the caller passes as today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel

from catalogue.domain import BadgeStatus
from cpd_events.types import CareerStage, CourseKind, NpqType, ProviderKind
from cpd_eventstore.db import Pool

_BADGE_STATUS = """case
    when c.badge_level is not null and c.badge_expires_on >= {today} then 'badged'
    when c.badge_level is not null then 'lapsed'
    when c.badge_revoked then 'revoked'
    else 'none' end"""


@dataclass(frozen=True, kw_only=True)
class CourseFilter:
    kind: CourseKind | None = None
    npq_type: NpqType | None = None
    subject: str | None = None
    phase: str | None = None
    career_stage: CareerStage | None = None
    badged: bool | None = None
    badge_status: BadgeStatus | None = None
    max_price_pence: int | None = None
    government_funded: bool | None = None
    provider_id: str | None = None
    q: str | None = None
    include_retired: bool = False


class CourseSummary(BaseModel):
    course_id: str
    title: str
    provider_id: str
    provider_name: str | None
    provider_active: bool | None
    kind: CourseKind
    npq_type: NpqType | None
    subjects: list[str]
    phases: list[str]
    career_stages: list[CareerStage]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    badge_level: str | None
    badge_expires_on: date | None
    badge_status: BadgeStatus
    retired: bool


class CoursePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CourseSummary]


class CourseStats(BaseModel):
    course_id: str
    requests: int
    approvals: int
    completions: int
    places_booked: int
    rating_count: int
    rating_average: Decimal | None


class ProviderSummary(BaseModel):
    provider_id: str
    name: str
    kind: ProviderKind
    active: bool
    courses: int


class CohortSummary(BaseModel):
    cohort_id: str
    course_id: str
    starts_on: date
    ends_on: date
    capacity: int
    booked: int
    places_left: int


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, clause: str, *values: Any) -> None:
        self.clauses.append(clause.format(*(self.param(v) for v in values)))

    def sql(self) -> str:
        return " and ".join(self.clauses) or "true"


async def search_courses(
    pool: Pool, where: CourseFilter, today: date, limit: int = 50, offset: int = 0
) -> CoursePage:
    w = _Where()
    status = _BADGE_STATUS.format(today=w.param(today))
    if not where.include_retired:
        w.add("not c.retired")
    if where.kind is not None:
        w.add("c.kind = {}", where.kind.value)
    if where.npq_type is not None:
        w.add("c.npq_type = {}", where.npq_type.value)
    if where.subject:
        w.add("c.subject_keys @> array[{}]::text[]", where.subject.strip().lower())
    if where.phase:
        w.add("c.phase_keys @> array[{}]::text[]", where.phase.strip().lower())
    if where.career_stage is not None:
        w.add("c.career_stages @> array[{}]::text[]", where.career_stage.value)
    if where.badged is not None:
        w.clauses.append(f"({status}) {'=' if where.badged else '<>'} 'badged'")
    if where.badge_status is not None:
        w.add(f"({status}) = {{}}", where.badge_status.value)
    if where.max_price_pence is not None:
        w.add("c.price_pence <= {}", where.max_price_pence)
    if where.government_funded is not None:
        w.add("c.government_funded = {}", where.government_funded)
    if where.provider_id:
        w.add("c.provider_id = {}", where.provider_id)
    order = "c.title, c.course_id"
    if where.q and where.q.strip():
        query = f"websearch_to_tsquery('english', {w.param(where.q.strip())})"
        # text of stop words only ("the") has no lexemes: it filters nothing out
        w.clauses.append(f"(numnode({query}) = 0 or c.search @@ {query})")
        order = f"ts_rank(c.search, {query}) desc, {order}"
    rows = await pool.fetch(
        f"""select c.*, {status} as status, p.name as provider_name,
                   p.active as provider_active, count(*) over () as total
              from catalogue.courses c
              left join catalogue.providers p using (provider_id)
             where {w.sql()}
             order by {order}
             limit {w.param(limit)} offset {w.param(offset)}""",
        *w.params,
    )
    return CoursePage(
        total=rows[0]["total"] if rows else 0,
        limit=limit,
        offset=offset,
        items=[
            CourseSummary(
                course_id=row["course_id"],
                title=row["title"],
                provider_id=row["provider_id"],
                provider_name=row["provider_name"],
                provider_active=row["provider_active"],
                kind=row["kind"],
                npq_type=row["npq_type"],
                subjects=row["subjects"],
                phases=row["phases"],
                career_stages=row["career_stages"],
                hours=row["hours"],
                price_pence=row["price_pence"],
                government_funded=row["government_funded"],
                delivery_mode=row["delivery_mode"],
                badge_level=row["badge_level"],
                badge_expires_on=row["badge_expires_on"],
                badge_status=row["status"],
                retired=row["retired"],
            )
            for row in rows
        ],
    )


async def course_stats(pool: Pool, course_id: str) -> CourseStats | None:
    """Uptake (requests, approvals, completions, places booked) and rating of a course."""
    row = await pool.fetchrow(
        """select
             (select count(*) from catalogue.cpd_requests r where r.course_id = c.course_id)
                 as requests,
             (select count(*) from catalogue.cpd_requests r
               where r.course_id = c.course_id and r.approved) as approvals,
             (select count(*) from catalogue.cpd_requests r
               where r.course_id = c.course_id and r.completed) as completions,
             (select coalesce(sum(booked), 0) from catalogue.cohorts h
               where h.course_id = c.course_id) as places_booked,
             (select count(*) from catalogue.feedback f where f.course_id = c.course_id)
                 as rating_count,
             (select avg(rating) from catalogue.feedback f where f.course_id = c.course_id)
                 as rating_average
           from catalogue.courses c where c.course_id = $1""",
        course_id,
    )
    if row is None:
        return None
    average = row["rating_average"]
    return CourseStats(
        course_id=course_id,
        requests=row["requests"],
        approvals=row["approvals"],
        completions=row["completions"],
        places_booked=row["places_booked"],
        rating_count=row["rating_count"],
        rating_average=None
        if average is None
        else Decimal(average).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
    )


async def list_providers(
    pool: Pool, kind: ProviderKind | None = None, active: bool | None = None
) -> list[ProviderSummary]:
    rows = await pool.fetch(
        """select p.provider_id, p.name, p.kind, p.active,
                  (select count(*) from catalogue.courses c
                    where c.provider_id = p.provider_id and not c.retired) as courses
             from catalogue.providers p
            where ($1::text is null or p.kind = $1) and ($2::boolean is null or p.active = $2)
            order by p.name, p.provider_id""",
        kind.value if kind else None,
        active,
    )
    return [ProviderSummary(**dict(row)) for row in rows]


async def cohorts_of(pool: Pool, course_id: str) -> list[CohortSummary]:
    rows = await pool.fetch(
        """select cohort_id, course_id, starts_on, ends_on, capacity, booked,
                  greatest(capacity - booked, 0) as places_left
             from catalogue.cohorts where course_id = $1 order by starts_on, cohort_id""",
        course_id,
    )
    return [CohortSummary(**dict(row)) for row in rows]


async def has_completed(pool: Pool, trn: str, course_id: str) -> bool:
    """Has entitlement recorded the teacher completing the course (``CPDCompleted``)?"""
    found = await pool.fetchval(
        "select exists(select 1 from catalogue.completions where trn = $1 and course_id = $2)",
        trn,
        course_id,
    )
    return bool(found)
