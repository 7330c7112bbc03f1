"""``school_summaries``: the current state of each school, refreshed for the schools a batch
touched.

The projection marks a school in ``dirty_schools`` when a batch touches it; the engine then calls
:func:`refresh_school_summaries` in the same transaction (``search_path`` already set to the
generation's schema, so tables are named without one). One set-based upsert recomputes the rows
from the entity tables:

- staff: the school's current teachers (``teachers.school_urn``, ``left_on is null``): headcount,
  FTE, early career teachers (``ect_year_1`` and ``ect_year_2``) and those of them without an
  active mentorship (``mentorships.ended_on is null``) as mentee;
- progress in the academic year of ``today`` (``teacher_years``): a teacher is *granted* when
  the year's row carries a policy version (an ``EntitlementGranted`` was seen); hours entitled,
  minimum met (``minimum_met_on`` set) and the progress histogram count granted teachers only;
  hours logged counts every current teacher;
- mentoring: the mentors of the school (``mentors.school_urn``), their capacity
  (``max_mentees``) and their active mentorships.

Dashboards read the histogram to work out, at read time, how many teachers are on track pro rata
to the day (see :mod:`reporting.dashboards`), so a summary stays right as days pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from cpd_events.types import academic_year_of
from cpd_eventstore.db import Connection

#: Buckets of ``school_summaries.progress_histogram``: 20 of 5 % each, then 100 % and over.
BUCKETS = 21

#: Career stages that count as early career teachers (ECTs) for mentoring coverage.
ECT_STAGES = ("ect_year_1", "ect_year_2")

_ECT = "t.career_stage in ({})".format(", ".join(f"'{s}'" for s in ECT_STAGES))

# The 1-based bucket of a granted teacher: [(i-1)*5 %, i*5 %) of the hours entitled; 21 at 100 %
# and over (a grant of 0 hours is met at once). Exact: hours have two places, so in hundredths
# they are integers, and integer division rounds down.
_BUCKET = f"""case when y.policy_version is null then null
                   when y.hours_logged >= y.hours_entitled then {BUCKETS}
                   else ((y.hours_logged * 100)::bigint * {BUCKETS - 1}
                         / (y.hours_entitled * 100)::bigint)::int + 1 end"""

_HISTOGRAM = "array[{}]::int[]".format(
    ", ".join(f"count(*) filter (where p.bucket = {i})" for i in range(1, BUCKETS + 1))
)


def _refresh_sql(every: bool) -> str:
    """The upsert for the schools of ``$1`` (a text array), or for every school (``every``,
    planned as scans of whole tables rather than lookups); the academic year is the last
    parameter."""
    year = "$1" if every else "$2"
    if every:
        target = """select s.urn from schools s
    union
    select t.school_urn from teachers t where t.left_on is null"""
        teachers_of_target = "true"
        mentors_of_target = "mr.school_urn is not null"
        # the planner may hash every active mentorship once
        unmentored = """not exists (
               select 1 from mentorships m where m.mentee_trn = t.trn and m.ended_on is null)"""
    else:
        target = "select distinct u from unnest($1::text[]) as u"
        teachers_of_target = "t.school_urn in (select urn from target)"
        mentors_of_target = "mr.school_urn in (select urn from target)"
        # a lookup per ECT (limit 1: never a hash of every active mentorship)
        unmentored = """(select 1 from mentorships m
                 where m.mentee_trn = t.trn and m.ended_on is null limit 1) is null"""
    return f"""
with target(urn) as (
    {target}
),
per_teacher as materialized (
    select t.school_urn as urn,
           t.fte,
           y.policy_version is not null as granted,
           coalesce(y.hours_entitled, 0) as hours_entitled,
           coalesce(y.hours_logged, 0) as hours_logged,
           y.policy_version is not null and y.minimum_met_on is not null as minimum_met,
           {_BUCKET} as bucket,
           {_ECT} as ect,
           case when {_ECT} then {unmentored} else false end as ect_without_mentor
      from teachers t
      left join teacher_years y on y.trn = t.trn and y.academic_year = {year}
     where {teachers_of_target} and t.left_on is null
),
staff as (
    select p.urn,
           count(*) as teachers,
           sum(p.fte) as fte,
           count(*) filter (where p.granted) as teachers_granted,
           coalesce(sum(p.hours_entitled) filter (where p.granted), 0) as hours_entitled,
           sum(p.hours_logged) as hours_logged,
           count(*) filter (where p.minimum_met) as minimum_met,
           {_HISTOGRAM} as progress_histogram,
           count(*) filter (where p.ect) as ects,
           count(*) filter (where p.ect_without_mentor) as ects_without_mentor
      from per_teacher p
     group by p.urn
),
mentoring as (
    select mr.school_urn as urn,
           count(*) as mentors,
           coalesce(sum(mr.max_mentees), 0) as mentor_capacity,
           coalesce(sum((select count(*) from mentorships m
                          where m.mentor_trn = mr.trn and m.ended_on is null)), 0)
               as mentees_assigned
      from mentors mr
     where {mentors_of_target}
     group by mr.school_urn
)
insert into school_summaries as ss (
    urn, academic_year, teachers, fte, teachers_granted, hours_entitled, hours_logged,
    minimum_met, progress_histogram, ects, ects_without_mentor, mentors, mentor_capacity,
    mentees_assigned, refreshed_at)
select g.urn, {year}, coalesce(s.teachers, 0), coalesce(s.fte, 0), coalesce(s.teachers_granted, 0),
       coalesce(s.hours_entitled, 0), coalesce(s.hours_logged, 0), coalesce(s.minimum_met, 0),
       coalesce(s.progress_histogram, array_fill(0, array[{BUCKETS}])),
       coalesce(s.ects, 0), coalesce(s.ects_without_mentor, 0), coalesce(m.mentors, 0),
       coalesce(m.mentor_capacity, 0), coalesce(m.mentees_assigned, 0), now()
  from target g
  left join staff s on s.urn = g.urn
  left join mentoring m on m.urn = g.urn
on conflict (urn) do update set
    academic_year = excluded.academic_year,
    teachers = excluded.teachers,
    fte = excluded.fte,
    teachers_granted = excluded.teachers_granted,
    hours_entitled = excluded.hours_entitled,
    hours_logged = excluded.hours_logged,
    minimum_met = excluded.minimum_met,
    progress_histogram = excluded.progress_histogram,
    ects = excluded.ects,
    ects_without_mentor = excluded.ects_without_mentor,
    mentors = excluded.mentors,
    mentor_capacity = excluded.mentor_capacity,
    mentees_assigned = excluded.mentees_assigned,
    refreshed_at = excluded.refreshed_at
"""


REFRESH_SOME_SQL = _refresh_sql(every=False)
REFRESH_ALL_SQL = _refresh_sql(every=True)


async def refresh_school_summaries(
    conn: Connection, urns: Sequence[str] | None, today: date
) -> int:
    """Recompute the summaries of ``urns`` (``None``: every school) for the year of ``today``.

    Upserts one row per school (schools without current teachers get zeros), clears those
    schools from ``dirty_schools`` and returns how many summaries it wrote. Runs in the
    caller's transaction with ``search_path`` set to the generation's schema.
    """
    wanted = None if urns is None else sorted(set(urns))
    if wanted is not None and not wanted:
        return 0
    year = academic_year_of(today)
    # JIT-compiling the statement's many expressions takes longer (seconds) than running them:
    # off for the upsert only (a transaction-local setting, restored after)
    jit = await conn.fetchval("select current_setting('jit'), set_config('jit', 'off', true)")
    if wanted is None:
        status = await conn.execute(REFRESH_ALL_SQL, year)
        await conn.execute("delete from dirty_schools")
    else:
        status = await conn.execute(REFRESH_SOME_SQL, wanted, year)
        await conn.execute("delete from dirty_schools where urn = any($1::text[])", wanted)
    await conn.execute("select set_config('jit', $1, true)", jit)
    return int(status.rsplit(" ", 1)[1])
