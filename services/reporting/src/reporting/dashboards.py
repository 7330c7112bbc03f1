"""Dashboards over the reporting read models: school, trust, area (nation, region, local
authority) and course.

Every query takes a connection from :func:`reporting.reading.read_model` (one snapshot of one
generation, tables named without a schema) and runs a few set-based statements.

Two kinds of figure:

- *stock* figures (headcount, FTE, progress to the minimum, mentoring coverage) describe the
  schools as they are: they come from ``school_summaries``, and a trust's are those of the schools
  in the trust today (``schools.trust_id``);
- *flow* figures (hours logged, requests, approvals, funding committed and spent) count what
  happened in the academic year. A trust's come from ``school_days`` joined with
  ``school_trusts`` on the day, so a school that changes trust mid-year counts for the old trust
  up to the date and for the new one after it (a membership covering the whole year reads the
  school's ``school_years`` row instead of its days: the same figures, fewer rows).

*On track* is worked out at read time from the progress histogram, so it stays right as days
pass: on day ``on`` a granted teacher is on track when their hours logged reach the share of the
academic year (1 September to 31 August) elapsed by the end of that day, times their hours
entitled. The histogram counts teachers in steps of 5 %, so the share required is the elapsed
share rounded down to a 5 % step (``required_percent``): a teacher at most 5 points behind the
exact pro rata figure can count as on track, never one further behind.

Money is integer pence, hours are two-place decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from cpd_events.types import AcademicYear, Pence, TrustId, Urn
from cpd_eventstore.db import Connection, Row
from reporting.summaries import BUCKETS

_TWO_PLACES = Decimal("0.01")


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


TotalHours = Annotated[
    Decimal,
    Field(ge=0, description="Hours, two decimal places (a total over many teachers)"),
    AfterValidator(_two_places),
]
SharePercent = Annotated[
    Decimal,
    Field(ge=0, description="A percentage, two decimal places"),
    AfterValidator(_two_places),
]
Pot = Literal["school", "trust", "national_premium"]
AreaLevel = Literal["nation", "region", "local_authority"]

# --------------------------------------------------------------------------------------------
# Arithmetic of the academic year and of the progress histogram


def year_bounds(academic_year: str) -> tuple[date, date]:
    """First day of ``academic_year`` and the first day after it: [1 Sept, next 1 Sept)."""
    start = int(academic_year[:4])
    return date(start, 9, 1), date(start + 1, 9, 1)


def year_elapsed(academic_year: str, on: date) -> Fraction:
    """The share of ``academic_year`` elapsed by the end of day ``on`` (0 before, 1 after)."""
    start, end = year_bounds(academic_year)
    days = (on - start).days + 1
    return Fraction(min(max(days, 0), (end - start).days), (end - start).days)


def required_bucket(academic_year: str, on: date) -> int:
    """The 0-based histogram bucket from which granted teachers are on track on ``on``."""
    return int(year_elapsed(academic_year, on) * (BUCKETS - 1))


def on_track(histogram: Sequence[int], academic_year: str, on: date) -> int:
    """Granted teachers on track on ``on``, from a 21-bucket progress histogram."""
    return sum(histogram[required_bucket(academic_year, on) :])


def _percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return _two_places(Decimal(part) * 100 / Decimal(whole))


def _add_histograms(histograms: Iterable[Sequence[int] | None]) -> list[int]:
    total = [0] * BUCKETS
    for histogram in histograms:
        for i, count in enumerate(histogram or ()):
            total[i] += count
    return total


# --------------------------------------------------------------------------------------------
# Response models


class HistogramBucket(BaseModel):
    from_percent: int = Field(description="Lower bound (included) of hours logged, % of entitled")
    to_percent: int | None = Field(
        description="Upper bound (excluded); null for the last bucket: 100 % and over"
    )
    teachers: int


class Progress(BaseModel):
    """Progress of the granted teachers to the year's minimum, on day ``on``."""

    academic_year: AcademicYear
    on: date = Field(description="The day the on-track figures are worked out for")
    year_elapsed_percent: SharePercent = Field(
        description="Share of the academic year (1 Sept - 31 Aug) elapsed by the end of ``on``"
    )
    required_percent: int = Field(
        description="Hours logged a teacher needs, as % of their hours entitled, to count as on"
        " track: the elapsed share rounded down to the histogram's 5 % step"
    )
    teachers_granted: int = Field(description="Teachers with an entitlement granted this year")
    on_track: int = Field(description="Granted teachers whose hours logged reach the pro rata")
    on_track_percent: SharePercent | None = Field(
        description="on_track / teachers_granted; null when no teacher is granted"
    )
    minimum_met: int = Field(description="Granted teachers who met the year's minimum")
    hours_entitled: TotalHours = Field(description="Sum over granted teachers")
    hours_logged: TotalHours = Field(description="Hours logged this year by the current teachers")
    average_hours_logged: TotalHours | None = Field(
        description="hours_logged per current teacher; null without teachers"
    )
    histogram: list[HistogramBucket] = Field(
        description="Granted teachers by hours logged as a share of their hours entitled"
    )


class Mentoring(BaseModel):
    ects: int = Field(description="Early career teachers (ECT year 1 and 2) in post")
    ects_with_mentor: int
    ects_without_mentor: int = Field(description="ECTs with no active mentorship as mentee")
    mentors: int
    mentor_capacity: int = Field(description="Sum of the mentors' maximum mentees")
    mentees_assigned: int = Field(description="Active mentorships of these mentors")
    capacity_used_percent: SharePercent | None = Field(
        description="mentees_assigned / mentor_capacity; null without capacity"
    )


class Activity(BaseModel):
    """What happened in the academic year (flow figures)."""

    hours_logged: TotalHours
    requests: int
    approvals: int
    declines: int
    completions: int
    funding_committed_pence: Pence = Field(
        description="Funding committed by approvals (before later releases or spending)"
    )
    funding_spent_pence: Pence = Field(description="Funding spent on completed CPD")


class PotFunding(BaseModel):
    """Budgets of one pot for the year.

    Budget columns accumulate their events: committed counts every commitment, spent the
    commitments since spent, released those given back; so the commitment still outstanding
    is committed - spent - released.
    """

    pot: Pot = Field(
        description="school: the school's delegated pot; trust: the trust's central pot;"
        " national_premium: the national premium for disadvantaged schools"
    )
    budgets: int
    allocated_pence: Pence
    committed_pence: Pence = Field(description="Committed and not yet spent nor released")
    spent_pence: Pence
    released_pence: Pence
    available_pence: int = Field(
        description="allocated - committed - spent: negative when over-committed"
    )


class ActivityHours(BaseModel):
    activity_type: str
    hours: TotalHours


class TopCourse(BaseModel):
    course_id: str
    title: str | None = Field(description="Null until the course's listing is seen")
    kind: str | None
    badge_level: str | None = Field(description="The course's badge, if valid on the day")
    requests: int
    approvals: int = Field(description="Requests approved (completed ones included)")
    completions: int


class SchoolDashboard(BaseModel):
    urn: Urn
    name: str | None
    local_authority: str | None
    region: str | None
    phase: str | None
    pp50: bool = Field(description="A disadvantaged (PP50) school")
    trust_id: str | None = Field(description="The school's trust today")
    trust_name: str | None
    academic_year: AcademicYear
    cpd_lead_present: bool
    cpd_lead_since: date | None
    teachers: int = Field(description="Headcount of current teachers")
    fte: Decimal = Field(description="Full-time equivalent of current teachers")
    progress: Progress | None = Field(
        description="Null when the school's summary is for another academic year"
    )
    mentoring: Mentoring
    activity: Activity = Field(description="The school's figures for the year")
    funding_entitled_pence: Pence = Field(description="Entitlement granted to its teachers")
    hours_by_activity: list[ActivityHours]
    funding: list[PotFunding] = Field(
        description="The school's delegated and premium pots, and its trust's central pot"
        " (shared by the trust's schools)"
    )
    top_courses: list[TopCourse] = Field(
        description="Courses its teachers asked for this year, most approvals first"
    )
    summary_refreshed_at: datetime | None


class TrustSchool(BaseModel):
    """One school of the trust: in it today, or in it for part of the year."""

    urn: str
    name: str | None
    phase: str | None
    pp50: bool | None
    member_now: bool = Field(description="In the trust today; stock figures only for these")
    cpd_lead_present: bool | None
    teachers: int
    fte: Decimal
    teachers_granted: int
    on_track: int
    on_track_percent: SharePercent | None
    ects_without_mentor: int
    capacity_used_percent: SharePercent | None
    activity: Activity = Field(description="The school's flow figures while in this trust")


class TrustDashboard(BaseModel):
    trust_id: TrustId
    name: str | None
    region: str | None
    funding_model: str | None = Field(description="centralised | delegated | hybrid")
    central_share_percent: Decimal | None = Field(description="Under a hybrid model")
    funding_model_from: date | None
    cpd_lead_present: bool
    academic_year: AcademicYear
    schools: int = Field(description="Schools in the trust today")
    schools_with_cpd_lead: int
    teachers: int
    fte: Decimal
    progress: Progress | None = Field(description="Null without summaries for the year")
    mentoring: Mentoring
    activity: Activity = Field(
        description="Flow figures of the year, each school counted while it was in the trust"
    )
    funding: list[PotFunding] = Field(
        description="The trust's central pot and its schools' delegated and premium pots"
    )
    central_spent_percent: SharePercent | None = Field(
        description="Share of the spending (central + delegated) paid from the central pot"
    )
    top_courses: list[TopCourse] = Field(
        description="Courses requested by its schools while in the trust, most approvals first"
    )
    by_school: list[TrustSchool]


class Rollout(BaseModel):
    schools: int
    schools_with_cpd_lead: int
    schools_with_cpd_lead_percent: SharePercent | None
    teachers: int
    teachers_granted: int
    on_track: int
    on_track_percent: SharePercent | None
    minimum_met: int
    hours_logged: TotalHours
    average_hours_logged: TotalHours | None


class Spend(BaseModel):
    funding_entitled_pence: Pence = Field(description="Entitlement granted to teachers")
    funding_committed_pence: Pence
    funding_spent_pence: Pence
    spent_percent: SharePercent | None = Field(description="spent / entitled")
    school_budgets_allocated_pence: Pence = Field(
        description="Allocated to the schools' own pots (delegated and premium)"
    )


class AreaGroup(BaseModel):
    phase: str | None = Field(default=None, description="Set in the by-phase breakdown")
    pp50: bool | None = Field(default=None, description="Set in the disadvantage breakdown")
    rollout: Rollout
    spend: Spend
    mentoring: Mentoring


class Uptake(BaseModel):
    kind: str | None = Field(description="Course kind; null for courses not listed yet")
    badge_level: str | None = Field(description="Null: no badge valid on the day")
    courses: int
    requests: int
    approvals: int
    completions: int


class AreaSummary(BaseModel):
    level: AreaLevel
    name: str | None
    academic_year: AcademicYear
    on: date
    total: AreaGroup
    by_phase: list[AreaGroup]
    by_disadvantage: list[AreaGroup] = Field(description="PP50 schools and the others")
    funding: list[PotFunding] = Field(
        description="Budgets by pot: the area's schools' pots, and trusts' central pots by the"
        " trust's region (nation and region only: a trust's pot has no local authority)"
    )
    course_uptake: list[Uptake] = Field(
        description="Requests of the area's schools this year by course kind and badge"
    )


class RatingCount(BaseModel):
    rating: int
    teachers: int


class CourseYear(BaseModel):
    academic_year: AcademicYear
    requests: int
    approvals: int
    declines: int
    withdrawals: int
    completions: int


class CourseReport(BaseModel):
    course_id: str
    title: str | None
    provider_id: str | None
    provider_name: str | None
    kind: str | None
    npq_type: str | None
    hours: Decimal | None
    price_pence: Pence | None
    government_funded: bool | None
    retired: bool
    badge_level: str | None = Field(description="Null when no badge or lapsed on ``on``")
    badge_expires_on: date | None
    requests: int
    enrolments: int = Field(description="Requests approved")
    completions: int
    completion_percent: SharePercent | None = Field(description="completions / enrolments")
    ratings: int
    average_rating: Decimal | None
    ratings_by_value: list[RatingCount]
    hours_delivered: TotalHours = Field(description="Course hours times completions")
    cost_completed_pence: Pence
    cost_per_hour_pence: int | None = Field(
        description="cost_completed / hours_delivered, rounded; null before any completion"
    )
    academic_year: AcademicYear
    year: CourseYear | None = Field(description="Requests of the academic year asked for")
    by_year: list[CourseYear]


class CourseUptake(BaseModel):
    academic_year: AcademicYear
    on: date
    by_kind_and_badge: list[Uptake]
    top_courses: list[TopCourse]


# --------------------------------------------------------------------------------------------
# Building blocks


def _progress(
    academic_year: str,
    on: date,
    histogram: Sequence[int],
    teachers: int,
    teachers_granted: int,
    minimum_met: int,
    hours_entitled: Decimal,
    hours_logged: Decimal,
) -> Progress:
    bucket = required_bucket(academic_year, on)
    tracked = sum(histogram[bucket:])
    step = 100 // (BUCKETS - 1)
    elapsed = year_elapsed(academic_year, on)
    return Progress(
        academic_year=academic_year,
        on=on,
        year_elapsed_percent=Decimal(elapsed.numerator) * 100 / elapsed.denominator,
        required_percent=bucket * step,
        teachers_granted=teachers_granted,
        on_track=tracked,
        on_track_percent=_percent(tracked, teachers_granted),
        minimum_met=minimum_met,
        hours_entitled=hours_entitled,
        hours_logged=hours_logged,
        average_hours_logged=None if not teachers else hours_logged / teachers,
        histogram=[
            HistogramBucket(
                from_percent=i * step,
                to_percent=(i + 1) * step if i < BUCKETS - 1 else None,
                teachers=count,
            )
            for i, count in enumerate(histogram)
        ],
    )


def _mentoring(ects: int, without: int, mentors: int, capacity: int, assigned: int) -> Mentoring:
    return Mentoring(
        ects=ects,
        ects_with_mentor=ects - without,
        ects_without_mentor=without,
        mentors=mentors,
        mentor_capacity=capacity,
        mentees_assigned=assigned,
        capacity_used_percent=_percent(assigned, capacity),
    )


def _activity(row: Row | dict[str, Any] | None) -> Activity:
    if row is None:
        return Activity(
            hours_logged=Decimal(0),
            requests=0,
            approvals=0,
            declines=0,
            completions=0,
            funding_committed_pence=0,
            funding_spent_pence=0,
        )
    return Activity(
        hours_logged=row["hours_logged"] or 0,
        requests=row["requests"] or 0,
        approvals=row["approvals"] or 0,
        declines=row["declines"] or 0,
        completions=row["completions"] or 0,
        funding_committed_pence=row["funding_committed_pence"] or 0,
        funding_spent_pence=row["funding_spent_pence"] or 0,
    )


_POT_ORDER = {"school": 0, "trust": 1, "national_premium": 2}

# Budgets of one year grouped by pot; the caller supplies the condition (``b``: budgets).
_POTS_SQL = """
select b.holder as pot, count(*)::int as budgets,
       sum(b.allocated_pence)::bigint as allocated, sum(b.committed_pence)::bigint as committed,
       sum(b.spent_pence)::bigint as spent, sum(b.released_pence)::bigint as released
  from budgets b
 where b.academic_year = $1 and b.holder in ('school', 'trust', 'national_premium')
   and ({condition})
 group by b.holder
"""


def _pots(rows: Iterable[Row]) -> list[PotFunding]:
    pots = []
    for row in sorted(rows, key=lambda r: _POT_ORDER[r["pot"]]):
        outstanding = max(0, row["committed"] - row["spent"] - row["released"])
        pots.append(
            PotFunding(
                pot=row["pot"],
                budgets=row["budgets"],
                allocated_pence=row["allocated"],
                committed_pence=outstanding,
                spent_pence=row["spent"],
                released_pence=row["released"],
                available_pence=row["allocated"] - outstanding - row["spent"],
            )
        )
    return pots


# A course's badge when valid on $on (a badge is valid through its expiry date).
_BADGE = "case when c.badge_expires_on is null or c.badge_expires_on >= {on} then c.badge_level end"

_TOP_COURSES_SQL = """
with per_course as (
    -- grouped in the C collation: byte comparisons when the planner sorts to group
    select r.course_id collate "C" as course_id, count(*)::int as requests,
           count(*) filter (where r.status in ('approved', 'completed'))::int as approvals,
           count(*) filter (where r.status = 'completed')::int as completions
      from {source}
     where {condition}
     group by 1
     order by approvals desc, requests desc, 1
     limit {limit}
)
select p.course_id, c.title, c.kind, {badge} as badge_level,
       p.requests, p.approvals, p.completions
  from per_course p
  left join courses c on c.course_id = p.course_id
 order by p.approvals desc, p.requests desc, p.course_id
"""


def _top_courses(rows: Iterable[Row]) -> list[TopCourse]:
    return [TopCourse(**dict(row)) for row in rows]


# --------------------------------------------------------------------------------------------
# School


_SCHOOL_SQL = """
select s.urn, s.name, s.local_authority, s.region, s.phase, s.pp50, s.trust_id,
       t.name as trust_name, s.cpd_lead_trn is not null as cpd_lead_present, s.cpd_lead_since,
       ss.academic_year as summary_year, ss.teachers, ss.fte, ss.teachers_granted,
       ss.hours_entitled, ss.hours_logged as summary_hours_logged, ss.minimum_met,
       ss.progress_histogram, ss.ects, ss.ects_without_mentor, ss.mentors, ss.mentor_capacity,
       ss.mentees_assigned, ss.refreshed_at,
       sy.hours_logged, sy.requests, sy.approvals, sy.declines, sy.completions,
       sy.funding_entitled_pence, sy.funding_committed_pence, sy.funding_spent_pence
  from schools s
  left join trusts t on t.trust_id = s.trust_id
  left join school_summaries ss on ss.urn = s.urn
  left join school_years sy on sy.urn = s.urn and sy.academic_year = $2
 where s.urn = $1
"""


async def school_dashboard(
    conn: Connection, urn: str, academic_year: str, on: date, top: int = 5
) -> SchoolDashboard | None:
    """The dashboard of school ``urn`` for ``academic_year``, on-track figures as of ``on``;
    ``None`` when the school is not in the read model."""
    row = await conn.fetchrow(_SCHOOL_SQL, urn, academic_year)
    if row is None:
        return None
    pots = await conn.fetch(
        _POTS_SQL.format(
            condition="b.school_urn = $2 or (b.holder = 'trust' and b.trust_id = $3"
            " and b.school_urn is null)"
        ),
        academic_year,
        urn,
        row["trust_id"],
    )
    by_activity = await conn.fetch(
        """select activity_type, hours from school_activity_hours
            where urn = $1 and academic_year = $2 and hours > 0
            order by hours desc, activity_type""",
        urn,
        academic_year,
    )
    courses = await conn.fetch(
        _TOP_COURSES_SQL.format(
            source="requests r",
            condition="r.school_urn = $1 and r.academic_year = $2",
            badge=_BADGE.format(on="$3::date"),
            limit=int(top),
        ),
        urn,
        academic_year,
        on,
    )
    progress = None
    if row["summary_year"] == academic_year:
        progress = _progress(
            academic_year,
            on,
            row["progress_histogram"],
            row["teachers"],
            row["teachers_granted"],
            row["minimum_met"],
            row["hours_entitled"],
            row["summary_hours_logged"],
        )
    return SchoolDashboard(
        urn=row["urn"],
        name=row["name"],
        local_authority=row["local_authority"],
        region=row["region"],
        phase=row["phase"],
        pp50=row["pp50"],
        trust_id=row["trust_id"],
        trust_name=row["trust_name"],
        academic_year=academic_year,
        cpd_lead_present=row["cpd_lead_present"],
        cpd_lead_since=row["cpd_lead_since"],
        teachers=row["teachers"] or 0,
        fte=row["fte"] or Decimal(0),
        progress=progress,
        mentoring=_mentoring(
            row["ects"] or 0,
            row["ects_without_mentor"] or 0,
            row["mentors"] or 0,
            row["mentor_capacity"] or 0,
            row["mentees_assigned"] or 0,
        ),
        activity=_activity(row if row["requests"] is not None else None),
        funding_entitled_pence=row["funding_entitled_pence"] or 0,
        hours_by_activity=[ActivityHours(**dict(r)) for r in by_activity],
        funding=_pots(pots),
        top_courses=_top_courses(courses),
        summary_refreshed_at=row["refreshed_at"],
    )


# --------------------------------------------------------------------------------------------
# Trust

_FLOW_COLUMNS = (
    "hours_logged",
    "requests",
    "approvals",
    "declines",
    "completions",
    "funding_committed_pence",
    "funding_spent_pence",
)

# The trust's memberships overlapping the year: a whole-year one reads the school's year row,
# a part-year one the school's days while a member ($2, $3: the year's first day and the first
# day after it). Then one row per school in the trust today or in it for part of the year.
_TRUST_SCHOOLS_SQL = """
with members as (
    select st.urn, st.joined_on, st.left_on,
           st.joined_on <= $2 and (st.left_on is null or st.left_on >= $3) as whole_year
      from school_trusts st
     where st.trust_id = $1 and st.joined_on < $3 and (st.left_on is null or st.left_on > $2)
),
flows as (
    select m.urn, {year_columns}
      from members m
      join school_years y on y.urn = m.urn and y.academic_year = $4
     where m.whole_year
    union all
    select m.urn, {day_columns}
      from members m
      join school_days d
        on d.urn = m.urn
       and d.day >= greatest(m.joined_on, $2) and d.day < least(coalesce(m.left_on, $3), $3)
       and d.academic_year = $4
     where not m.whole_year
     group by m.urn
),
per_school as (
    select f.urn, {sum_columns} from flows f group by f.urn
),
schools_of as (
    select s.urn from schools s where s.trust_id = $1
    union
    select m.urn from members m
)
select u.urn, s.name, s.phase, s.pp50, coalesce(s.trust_id = $1, false) as member_now,
       s.cpd_lead_present,
       ss.academic_year as summary_year, ss.teachers, ss.fte, ss.teachers_granted,
       ss.hours_entitled, ss.hours_logged as summary_hours_logged, ss.minimum_met,
       ss.progress_histogram, ss.ects, ss.ects_without_mentor, ss.mentors, ss.mentor_capacity,
       ss.mentees_assigned,
       {flow_columns}
  from schools_of u
  -- a lookup per school (the planner would rather scan every school to hash them)
  left join lateral (
      select s.name, s.phase, s.pp50, s.trust_id, s.cpd_lead_trn is not null as cpd_lead_present
        from schools s where s.urn = u.urn offset 0
  ) s on true
  left join school_summaries ss on ss.urn = u.urn and s.trust_id = $1
  left join per_school p on p.urn = u.urn
 order by u.urn
""".format(
    year_columns=", ".join(f"y.{c}" for c in _FLOW_COLUMNS),
    day_columns=", ".join(f"sum(d.{c}) as {c}" for c in _FLOW_COLUMNS),
    sum_columns=", ".join(f"sum(f.{c}) as {c}" for c in _FLOW_COLUMNS),
    flow_columns=", ".join(f"p.{c}" for c in _FLOW_COLUMNS),
)

# Requests of the trust's schools made while in the trust (memberships never overlap, so a
# request matches one membership at most); dates are UK dates.
_TRUST_REQUESTS = """school_trusts st
     cross join lateral (
         select r.course_id, r.status
           from requests r
          where r.school_urn = st.urn and r.academic_year = $2
            and r.requested_at >= (st.joined_on::timestamp at time zone 'Europe/London')
            and (st.left_on is null
                 or r.requested_at < (st.left_on::timestamp at time zone 'Europe/London'))
         offset 0  -- keeps it a nested loop: one index scan per school of the trust
     ) r"""
_TRUST_REQUESTS_CONDITION = "st.trust_id = $1"


def _sum(rows: Sequence[Row], column: str) -> Any:
    return sum((row[column] or 0) for row in rows)


async def trust_dashboard(
    conn: Connection, trust_id: str, academic_year: str, on: date, top: int = 5
) -> TrustDashboard | None:
    """The dashboard of trust ``trust_id`` for ``academic_year``, on-track figures as of
    ``on``; ``None`` when the trust is not in the read model."""
    trust = await conn.fetchrow(
        """select trust_id, name, region, funding_model, central_share_percent,
                  funding_model_from, cpd_lead_trn is not null as cpd_lead_present
             from trusts where trust_id = $1""",
        trust_id,
    )
    if trust is None:
        return None
    start, end = year_bounds(academic_year)
    rows = await conn.fetch(_TRUST_SCHOOLS_SQL, trust_id, start, end, academic_year)
    pots = await conn.fetch(
        _POTS_SQL.format(
            condition="b.trust_id = $2 or b.school_urn"
            " = any(array(select s.urn from schools s where s.trust_id = $2))"
        ),
        academic_year,
        trust_id,
    )
    courses = await conn.fetch(
        _TOP_COURSES_SQL.format(
            source=_TRUST_REQUESTS,
            condition=_TRUST_REQUESTS_CONDITION,
            badge=_BADGE.format(on="$3::date"),
            limit=int(top),
        ),
        trust_id,
        academic_year,
        on,
    )
    current = [r for r in rows if r["member_now"]]
    with_year = [r for r in current if r["summary_year"] == academic_year]
    progress = None
    if with_year:
        progress = _progress(
            academic_year,
            on,
            _add_histograms(r["progress_histogram"] for r in with_year),
            _sum(with_year, "teachers"),
            _sum(with_year, "teachers_granted"),
            _sum(with_year, "minimum_met"),
            _sum(with_year, "hours_entitled"),
            _sum(with_year, "summary_hours_logged"),
        )
    totals = {c: _sum(rows, c) for c in _FLOW_COLUMNS}
    funding = _pots(pots)
    central = sum(p.spent_pence for p in funding if p.pot == "trust")
    delegated = sum(p.spent_pence for p in funding if p.pot == "school")
    return TrustDashboard(
        **dict(trust),
        academic_year=academic_year,
        schools=len(current),
        schools_with_cpd_lead=sum(1 for r in current if r["cpd_lead_present"]),
        teachers=_sum(current, "teachers"),
        fte=_sum(current, "fte"),
        progress=progress,
        mentoring=_mentoring(
            _sum(current, "ects"),
            _sum(current, "ects_without_mentor"),
            _sum(current, "mentors"),
            _sum(current, "mentor_capacity"),
            _sum(current, "mentees_assigned"),
        ),
        activity=_activity(totals),
        funding=funding,
        central_spent_percent=_percent(central, central + delegated),
        top_courses=_top_courses(courses),
        by_school=[_trust_school(r, academic_year, on) for r in rows],
    )


def _trust_school(row: Row, academic_year: str, on: date) -> TrustSchool:
    stock = row["member_now"] and row["summary_year"] is not None
    this_year = stock and row["summary_year"] == academic_year
    granted = row["teachers_granted"] if this_year else 0
    tracked = on_track(row["progress_histogram"], academic_year, on) if this_year else 0
    return TrustSchool(
        urn=row["urn"],
        name=row["name"],
        phase=row["phase"],
        pp50=row["pp50"],
        member_now=row["member_now"],
        cpd_lead_present=row["cpd_lead_present"],
        teachers=row["teachers"] if stock else 0,
        fte=row["fte"] if stock else Decimal(0),
        teachers_granted=granted,
        on_track=tracked,
        on_track_percent=_percent(tracked, granted),
        ects_without_mentor=row["ects_without_mentor"] if stock else 0,
        capacity_used_percent=_percent(row["mentees_assigned"], row["mentor_capacity"])
        if stock
        else None,
        activity=_activity(row),
    )


# --------------------------------------------------------------------------------------------
# Areas: nation, region, local authority

_AREA_CONDITION: dict[str, str] = {
    "nation": "true",
    "region": "s.region = $2",
    "local_authority": "s.local_authority = $2",
}

_AREA_SQL = """
with budgets_of as (
    select b.school_urn, sum(b.allocated_pence) as allocated
      from budgets b
     where b.academic_year = $1 and b.school_urn is not null
       and b.holder in ('school', 'national_premium')
     group by b.school_urn
)
select grouping(s.phase) = 0 as by_phase, grouping(s.pp50) = 0 as by_pp50, s.phase, s.pp50,
       count(*)::int as schools,
       (count(*) filter (where s.cpd_lead_trn is not null))::int as schools_with_cpd_lead,
       coalesce(sum(ss.teachers), 0)::int as teachers,
       coalesce(sum(ss.teachers_granted) filter (where ss.academic_year = $1), 0)::int
           as teachers_granted,
       coalesce(sum(ss.minimum_met) filter (where ss.academic_year = $1), 0)::int as minimum_met,
       coalesce(sum(ss.hours_logged) filter (where ss.academic_year = $1), 0) as hours_logged,
       coalesce(sum(ss.teachers) filter (where ss.academic_year = $1), 0)::int
           as teachers_in_year,
       array[{histogram}] as histogram,
       coalesce(sum(ss.ects), 0)::int as ects,
       coalesce(sum(ss.ects_without_mentor), 0)::int as ects_without_mentor,
       coalesce(sum(ss.mentors), 0)::int as mentors,
       coalesce(sum(ss.mentor_capacity), 0)::int as mentor_capacity,
       coalesce(sum(ss.mentees_assigned), 0)::int as mentees_assigned,
       coalesce(sum(sy.funding_entitled_pence), 0)::bigint as funding_entitled_pence,
       coalesce(sum(sy.funding_committed_pence), 0)::bigint as funding_committed_pence,
       coalesce(sum(sy.funding_spent_pence), 0)::bigint as funding_spent_pence,
       coalesce(sum(bo.allocated), 0)::bigint as school_budgets_allocated_pence
  from schools s
  left join school_summaries ss on ss.urn = s.urn
  left join school_years sy on sy.urn = s.urn and sy.academic_year = $1
  left join budgets_of bo on bo.school_urn = s.urn
 where {condition}
 group by grouping sets ((), (s.phase), (s.pp50))
 order by by_phase, by_pp50, s.phase, s.pp50
""".replace(
    "{histogram}",
    ", ".join(
        f"coalesce(sum(ss.progress_histogram[{i}]) filter (where ss.academic_year = $1), 0)::int"
        for i in range(1, BUCKETS + 1)
    ),
)

# Budgets by pot of an area: school-held pots by the school's area, trusts' central pots by the
# trust's region (nation: every budget).
_AREA_POTS: dict[str, str] = {
    "nation": "true",
    "region": """b.school_urn in (select s.urn from schools s where s.region = $2)
                 or (b.school_urn is null and b.trust_id in
                     (select t.trust_id from trusts t where t.region = $2))""",
    "local_authority": "b.school_urn in (select s.urn from schools s where s.local_authority = $2)",
}

_UPTAKE_SQL = """
with per_course as (
    select r.course_id, count(*)::int as requests,
           count(*) filter (where r.status in ('approved', 'completed'))::int as approvals,
           count(*) filter (where r.status = 'completed')::int as completions
      from requests r
     where r.academic_year = $1 and ({condition})
     group by r.course_id
)
select c.kind, {badge} as badge_level, count(*)::int as courses,
       sum(p.requests)::int as requests, sum(p.approvals)::int as approvals,
       sum(p.completions)::int as completions
  from per_course p
  left join courses c on c.course_id = p.course_id
 group by 1, 2
 order by approvals desc, requests desc, c.kind nulls last, badge_level nulls last
"""

_UPTAKE_CONDITION: dict[str, str] = {
    "nation": "true",
    "region": "r.school_urn in (select s.urn from schools s where s.region = $3)",
    "local_authority": "r.school_urn in (select s.urn from schools s where s.local_authority = $3)",
}


def _area_group(row: Row, academic_year: str, on: date) -> AreaGroup:
    histogram: list[int] = list(row["histogram"])
    tracked = on_track(histogram, academic_year, on)
    granted = row["teachers_granted"]
    teachers_in_year = row["teachers_in_year"]
    return AreaGroup(
        phase=row["phase"] if row["by_phase"] else None,
        pp50=row["pp50"] if row["by_pp50"] else None,
        rollout=Rollout(
            schools=row["schools"],
            schools_with_cpd_lead=row["schools_with_cpd_lead"],
            schools_with_cpd_lead_percent=_percent(row["schools_with_cpd_lead"], row["schools"]),
            teachers=row["teachers"],
            teachers_granted=granted,
            on_track=tracked,
            on_track_percent=_percent(tracked, granted),
            minimum_met=row["minimum_met"],
            hours_logged=row["hours_logged"],
            average_hours_logged=row["hours_logged"] / teachers_in_year
            if teachers_in_year
            else None,
        ),
        spend=Spend(
            funding_entitled_pence=row["funding_entitled_pence"],
            funding_committed_pence=row["funding_committed_pence"],
            funding_spent_pence=row["funding_spent_pence"],
            spent_percent=_percent(row["funding_spent_pence"], row["funding_entitled_pence"]),
            school_budgets_allocated_pence=row["school_budgets_allocated_pence"],
        ),
        mentoring=_mentoring(
            row["ects"],
            row["ects_without_mentor"],
            row["mentors"],
            row["mentor_capacity"],
            row["mentees_assigned"],
        ),
    )


async def area_summary(
    conn: Connection, level: AreaLevel, name: str | None, academic_year: str, on: date
) -> AreaSummary | None:
    """Rollout, spend, mentoring coverage and course uptake of the nation, a region or a local
    authority, in total, by phase and by disadvantage band (PP50 or not); ``None`` when a
    region or local authority has no school."""
    if level != "nation" and name is None:
        raise ValueError(f"a {level} summary needs the {level}'s name")
    area = () if level == "nation" else (name,)
    rows = await conn.fetch(
        _AREA_SQL.format(condition=_AREA_CONDITION[level]), academic_year, *area
    )
    total = next((r for r in rows if not r["by_phase"] and not r["by_pp50"]), None)
    if total is None or (level != "nation" and total["schools"] == 0):
        return None
    pots = await conn.fetch(_POTS_SQL.format(condition=_AREA_POTS[level]), academic_year, *area)
    uptake = await conn.fetch(
        _UPTAKE_SQL.format(condition=_UPTAKE_CONDITION[level], badge=_BADGE.format(on="$2::date")),
        academic_year,
        on,
        *area,
    )
    return AreaSummary(
        level=level,
        name=None if level == "nation" else name,
        academic_year=academic_year,
        on=on,
        total=_area_group(total, academic_year, on),
        by_phase=[_area_group(r, academic_year, on) for r in rows if r["by_phase"]],
        by_disadvantage=[_area_group(r, academic_year, on) for r in rows if r["by_pp50"]],
        funding=_pots(pots),
        course_uptake=[Uptake(**dict(r)) for r in uptake],
    )


# --------------------------------------------------------------------------------------------
# Courses


async def course_report(
    conn: Connection, course_id: str, academic_year: str, on: date
) -> CourseReport | None:
    """Uptake, completions, ratings and cost per hour delivered of one course (its badge as
    valid on ``on``), its requests in ``academic_year`` and in every year; ``None`` when the
    course is not in the read model."""
    course = await conn.fetchrow(
        f"""select c.course_id, c.title, c.provider_id, p.name as provider_name, c.kind,
                   c.npq_type, c.hours, c.price_pence, c.government_funded, c.retired,
                   {_BADGE.format(on="$2::date")} as badge_level,
                   case when c.badge_level is not null then c.badge_expires_on end
                       as badge_expires_on,
                   c.requests, c.enrolments, c.completions, c.ratings, c.rating_total,
                   c.hours_completed, c.cost_completed_pence
              from courses c
              left join providers p on p.provider_id = c.provider_id
             where c.course_id = $1""",
        course_id,
        on,
    )
    if course is None:
        return None
    ratings = await conn.fetch(
        """select rating, count(*)::int as teachers from course_feedback
            where course_id = $1 group by rating order by rating""",
        course_id,
    )
    years = await conn.fetch(
        """select academic_year, count(*)::int as requests,
                  count(*) filter (where status in ('approved', 'completed'))::int as approvals,
                  count(*) filter (where status = 'declined')::int as declines,
                  count(*) filter (where status = 'withdrawn')::int as withdrawals,
                  count(*) filter (where status = 'completed')::int as completions
             from requests where course_id = $1
            group by academic_year order by academic_year""",
        course_id,
    )
    by_year = [CourseYear(**dict(r)) for r in years]
    hours_delivered: Decimal = course["hours_completed"]
    cost: int = course["cost_completed_pence"]
    return CourseReport(
        course_id=course["course_id"],
        title=course["title"],
        provider_id=course["provider_id"],
        provider_name=course["provider_name"],
        kind=course["kind"],
        npq_type=course["npq_type"],
        hours=course["hours"],
        price_pence=course["price_pence"],
        government_funded=course["government_funded"],
        retired=course["retired"],
        badge_level=course["badge_level"],
        badge_expires_on=course["badge_expires_on"],
        requests=course["requests"],
        enrolments=course["enrolments"],
        completions=course["completions"],
        completion_percent=_percent(course["completions"], course["enrolments"]),
        ratings=course["ratings"],
        average_rating=_two_places(Decimal(course["rating_total"]) / course["ratings"])
        if course["ratings"]
        else None,
        ratings_by_value=[RatingCount(**dict(r)) for r in ratings],
        hours_delivered=hours_delivered,
        cost_completed_pence=cost,
        cost_per_hour_pence=int((Decimal(cost) / hours_delivered).to_integral_value(ROUND_HALF_UP))
        if hours_delivered
        else None,
        academic_year=academic_year,
        year=next((y for y in by_year if y.academic_year == academic_year), None),
        by_year=by_year,
    )


async def course_uptake(
    conn: Connection, academic_year: str, on: date, top: int = 20
) -> CourseUptake:
    """National course uptake of ``academic_year``: requests by course kind and badge (valid
    on ``on``), and the courses with the most approvals."""
    per_course = await conn.fetch(
        """select r.course_id, count(*)::int as requests,
                  count(*) filter (where r.status in ('approved', 'completed'))::int as approvals,
                  count(*) filter (where r.status = 'completed')::int as completions
             from requests r
            where r.academic_year = $1
            group by r.course_id""",
        academic_year,
    )
    courses = await conn.fetch(
        f"""select c.course_id, c.title, c.kind, {_BADGE.format(on="$2::date")} as badge_level
              from courses c where c.course_id = any($1::text[])""",
        [r["course_id"] for r in per_course],
        on,
    )
    listing = {c["course_id"]: c for c in courses}
    groups: dict[tuple[str | None, str | None], list[int]] = {}
    tops: list[TopCourse] = []
    for r in per_course:
        c = listing.get(r["course_id"])
        kind = c["kind"] if c else None
        badge = c["badge_level"] if c else None
        figures = groups.setdefault((kind, badge), [0, 0, 0, 0])
        figures[0] += 1
        figures[1] += r["requests"]
        figures[2] += r["approvals"]
        figures[3] += r["completions"]
        tops.append(
            TopCourse(
                course_id=r["course_id"],
                title=c["title"] if c else None,
                kind=kind,
                badge_level=badge,
                requests=r["requests"],
                approvals=r["approvals"],
                completions=r["completions"],
            )
        )
    tops.sort(key=lambda t: (-t.approvals, -t.requests, t.course_id))
    uptake = [
        Uptake(
            kind=kind,
            badge_level=badge,
            courses=f[0],
            requests=f[1],
            approvals=f[2],
            completions=f[3],
        )
        for (kind, badge), f in groups.items()
    ]
    uptake.sort(
        key=lambda u: (-u.approvals, -u.requests, u.kind or "\uffff", u.badge_level or "\uffff")
    )
    return CourseUptake(
        academic_year=academic_year, on=on, by_kind_and_badge=uptake, top_courses=tops[:top]
    )
