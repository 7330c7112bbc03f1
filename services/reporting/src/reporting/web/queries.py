"""The few reads the web dashboard needs that the dashboards, record and analysts' queries do
not give: the national breakdown by region and local authority, a trust's requests waiting for
approval, its teachers far behind the pro rata minimum and its ECTs without a mentor, and a
cheap version of the read models for live pages.

Every function takes a connection from :func:`reporting.reading.read_model` (tables named
without a schema, one snapshot); on-track figures use :func:`reporting.dashboards.on_track`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from cpd_events.types import academic_year_of
from cpd_eventstore.db import Connection
from reporting.dashboards import on_track, year_elapsed
from reporting.summaries import BUCKETS, ECT_STAGES

# --------------------------------------------------------------------------------------------
# The year a page shows by default


async def default_academic_year(conn: Connection, on: date) -> str:
    """The academic year of ``on`` if a policy is published for it, else the latest year with
    a policy before it (the demo's), else the year of ``on``."""
    current = academic_year_of(on)
    found = await conn.fetchval(
        "select max(academic_year) from policies where academic_year <= $1", current
    )
    return str(found) if found else current


async def academic_years(conn: Connection, on: date) -> list[str]:
    """Years with a policy, and the current one, newest first."""
    rows = await conn.fetch("select academic_year from policies")
    return sorted({academic_year_of(on), *(r["academic_year"] for r in rows)}, reverse=True)


# --------------------------------------------------------------------------------------------
# National breakdown by region and local authority


@dataclass(frozen=True)
class AreaRow:
    region: str | None
    local_authority: str | None  # None: the region's total
    schools: int
    schools_with_cpd_lead: int
    teachers_granted: int
    on_track: int
    ects: int
    ects_without_mentor: int
    funding_entitled_pence: int
    funding_spent_pence: int

    @property
    def cpd_lead_percent(self) -> float | None:
        return 100 * self.schools_with_cpd_lead / self.schools if self.schools else None

    @property
    def on_track_percent(self) -> float | None:
        return 100 * self.on_track / self.teachers_granted if self.teachers_granted else None

    @property
    def spent_percent(self) -> float | None:
        if not self.funding_entitled_pence:
            return None
        return 100 * self.funding_spent_pence / self.funding_entitled_pence


_BREAKDOWN_SQL = """
select grouping(s.local_authority) = 1 as region_total, s.region, s.local_authority,
       count(*)::int as schools,
       (count(*) filter (where s.cpd_lead_trn is not null))::int as schools_with_cpd_lead,
       coalesce(sum(ss.teachers_granted) filter (where ss.academic_year = $1), 0)::int
           as teachers_granted,
       array[{histogram}] as histogram,
       coalesce(sum(ss.ects), 0)::int as ects,
       coalesce(sum(ss.ects_without_mentor), 0)::int as ects_without_mentor,
       coalesce(sum(sy.funding_entitled_pence), 0)::bigint as funding_entitled_pence,
       coalesce(sum(sy.funding_spent_pence), 0)::bigint as funding_spent_pence
  from schools s
  left join school_summaries ss on ss.urn = s.urn
  left join school_years sy on sy.urn = s.urn and sy.academic_year = $1
 group by grouping sets ((s.region), (s.region, s.local_authority))
 order by s.region nulls last, region_total desc, s.local_authority nulls last
""".replace(
    "{histogram}",
    ", ".join(
        f"coalesce(sum(ss.progress_histogram[{i}]) filter (where ss.academic_year = $1), 0)::int"
        for i in range(1, BUCKETS + 1)
    ),
)


async def area_breakdown(conn: Connection, academic_year: str, on: date) -> list[AreaRow]:
    """Rollout by region, each region's total first, then its local authorities."""
    rows = await conn.fetch(_BREAKDOWN_SQL, academic_year)
    return [
        AreaRow(
            region=r["region"],
            local_authority=None if r["region_total"] else r["local_authority"] or "(unknown)",
            schools=r["schools"],
            schools_with_cpd_lead=r["schools_with_cpd_lead"],
            teachers_granted=r["teachers_granted"],
            on_track=on_track(list(r["histogram"]), academic_year, on),
            ects=r["ects"],
            ects_without_mentor=r["ects_without_mentor"],
            funding_entitled_pence=r["funding_entitled_pence"],
            funding_spent_pence=r["funding_spent_pence"],
        )
        for r in rows
    ]


# --------------------------------------------------------------------------------------------
# A trust's people


@dataclass(frozen=True)
class PendingRequest:
    trn: str
    teacher: str
    school_urn: str
    school_name: str | None
    request_id: str
    course_id: str
    course_title: str | None
    cost_pence: int
    requested_at: datetime


async def pending_requests(
    conn: Connection, trust_id: str, academic_year: str, limit: int = 200
) -> list[PendingRequest]:
    """Requests of the trust's schools (today's members) still waiting for a decision."""
    rows = await conn.fetch(
        """select r.trn, t.given_name || ' ' || t.family_name as teacher, r.school_urn,
                  s.name as school_name, r.request_id, r.course_id, c.title as course_title,
                  r.cost_pence, r.requested_at
             from schools s
             join requests r on r.school_urn = s.urn and r.status = 'requested'
             left join teachers t on t.trn = r.trn
             left join courses c on c.course_id = r.course_id
            where s.trust_id = $1 and r.academic_year = $2
            order by r.requested_at, r.trn, r.request_id
            limit $3""",
        trust_id,
        academic_year,
        limit,
    )
    return [PendingRequest(**{**dict(r), "teacher": r["teacher"] or r["trn"]}) for r in rows]


@dataclass(frozen=True)
class TeacherBehind:
    trn: str
    teacher: str
    school_urn: str
    school_name: str | None
    hours_entitled: Decimal
    hours_logged: Decimal
    hours_expected: Decimal

    @property
    def hours_behind(self) -> Decimal:
        return max(Decimal(0), self.hours_expected - self.hours_logged)


async def teachers_behind(
    conn: Connection, trust_id: str, academic_year: str, on: date, limit: int = 100
) -> list[TeacherBehind]:
    """Granted teachers of the trust's schools far from the minimum: their hours logged are
    under half of the hours expected by ``on`` pro rata (hours entitled times the share of the
    year elapsed). Furthest behind first."""
    share = year_elapsed(academic_year, on)
    fraction = Decimal(share.numerator) / Decimal(share.denominator)
    rows = await conn.fetch(
        """select t.trn, t.given_name || ' ' || t.family_name as teacher, t.school_urn,
                  s.name as school_name, y.hours_entitled, y.hours_logged,
                  round(y.hours_entitled * $3, 2) as hours_expected
             from schools s
             join teachers t on t.school_urn = s.urn and t.left_on is null
             join teacher_years y on y.trn = t.trn and y.academic_year = $2
            where s.trust_id = $1 and y.policy_version is not null
              and y.hours_logged < y.hours_entitled * $3 / 2
            order by y.hours_entitled * $3 - y.hours_logged desc, t.trn
            limit $4""",
        trust_id,
        academic_year,
        fraction,
        limit,
    )
    return [TeacherBehind(**dict(r)) for r in rows]


@dataclass(frozen=True)
class EctWithoutMentor:
    trn: str
    teacher: str
    career_stage: str
    school_urn: str
    school_name: str | None
    registered_on: date


async def ects_without_mentor(
    conn: Connection, trust_id: str, limit: int = 200
) -> list[EctWithoutMentor]:
    """Early career teachers in the trust's schools with no active mentorship as mentee (the
    same rule as the school summaries' count)."""
    rows = await conn.fetch(
        """select t.trn, t.given_name || ' ' || t.family_name as teacher, t.career_stage,
                  t.school_urn, s.name as school_name, t.registered_on
             from schools s
             join teachers t on t.school_urn = s.urn and t.left_on is null
            where s.trust_id = $1 and t.career_stage = any($2::text[])
              and not exists (select from mentorships m
                               where m.mentee_trn = t.trn and m.ended_on is null)
            order by s.name, t.family_name, t.trn
            limit $3""",
        trust_id,
        list(ECT_STAGES),
        limit,
    )
    return [EctWithoutMentor(**dict(r)) for r in rows]


async def trust_of_teacher(conn: Connection, trn: str) -> str | None:
    """The trust of the teacher's current school today (``None``: none, or no such teacher)."""
    found = await conn.fetchval(
        """select s.trust_id from teachers t join schools s on s.urn = t.school_urn
            where t.trn = $1""",
        trn,
    )
    return str(found) if found is not None else None


@dataclass(frozen=True)
class TrustListing:
    trust_id: str
    name: str | None
    region: str | None
    funding_model: str | None
    schools: int


async def trusts(
    conn: Connection, search: str | None = None, limit: int = 2000
) -> list[TrustListing]:
    """Every trust with its number of schools today (filtered by name or id)."""
    rows = await conn.fetch(
        """select t.trust_id, t.name, t.region, t.funding_model,
                  (select count(*) from schools s where s.trust_id = t.trust_id)::int as schools
             from trusts t
            where $1::text is null or t.name ilike '%' || $1 || '%' or t.trust_id = $1
            order by t.name nulls last, t.trust_id
            limit $2""",
        search or None,
        limit,
    )
    return [TrustListing(**dict(r)) for r in rows]


# --------------------------------------------------------------------------------------------
# Live pages


async def data_version(conn: Connection) -> str:
    """Changes whenever the read models, school summaries or feeds move (cheap: no big scan)."""
    row = await conn.fetchrow(
        """select current_setting('search_path') as schema,
                  (select coalesce(sum(next_offset), 0) from applied_offsets) as offsets,
                  (select max(refreshed_at) from school_summaries) as summaries,
                  (select coalesce(max(seq), 0) from reporting_feed.events) as feed,
                  (select max(greatest(created_at, last_attempt_at))
                     from reporting_feed.webhooks) as webhooks"""
    )
    assert row is not None
    return "|".join(str(row[k]) for k in ("schema", "offsets", "summaries", "feed", "webhooks"))
