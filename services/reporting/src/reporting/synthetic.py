"""A synthetic dataset of the read models, of any size, made with set-based SQL.

For tests and query timings at national scale (22,000 schools, 470,000 teachers, 1,300 trusts
fill a generation in a few minutes): it writes the read-model tables directly, consistent with
each other, and is not a seed of the platform (that goes through the services' deciders).
"""

from __future__ import annotations

from datetime import date

from cpd_eventstore.db import Connection
from reporting.summaries import refresh_school_summaries

YEAR, LAST_YEAR = "2025/26", "2024/25"
TODAY = date(2026, 3, 15)

REGIONS = (
    "north_east",
    "north_west",
    "yorkshire_and_the_humber",
    "east_midlands",
    "west_midlands",
    "east_of_england",
    "london",
    "south_east",
    "south_west",
)
KINDS = ("npq", "mentor_development", "university", "hub", "inset", "coaching", "other")


async def generate(
    conn: Connection, schools: int, teachers: int, trusts: int, today: date = TODAY
) -> None:
    """Fill the generation on ``conn``'s search path with a consistent synthetic dataset.

    Two academic years (last and this, up to ``today``); 55 % of schools in trusts: the first
    trusts have 60 schools each, the others a handful; 2 % of trust schools moved to another
    trust on 2026-01-15; ~21 teachers per school, 18 % ECTs, most with a mentor; 5 requests per
    teacher over the two years; a school_days row on 3 days out of 4.
    """
    big = max(1, trusts // 13)
    members = schools * 55 // 100
    regions = "array[" + ", ".join(f"'{r}'" for r in REGIONS) + "]"
    kinds = "array[" + ", ".join(f"'{k}'" for k in KINDS) + "]"
    p = {"N": schools, "M": teachers, "T": trusts, "B": big, "MEM": members}

    def sql(text: str) -> str:
        for key, value in sorted(p.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(f"${key}", str(value))
        return text.replace("$REGIONS", regions).replace("$KINDS", kinds)

    await conn.execute(
        sql("""
        insert into trusts (trust_id, name, region, funding_model, central_share_percent,
                            funding_model_from, cpd_lead_trn)
        select (2000 + i)::text, 'Trust ' || i, ($REGIONS)[1 + i % 9],
               (array['centralised', 'delegated', 'hybrid'])[1 + i % 3],
               case when i % 3 = 2 then 40 end, date '2020-09-01',
               case when i % 5 <> 0 then (8000000 + i)::text end
          from generate_series(0, $T - 1) i;

        insert into schools (urn, name, local_authority, phase, region, pp50, pupils_on_roll,
                             fsm_percent, trust_id, cpd_lead_trn, cpd_lead_since)
        select (100000 + i)::text, 'School ' || i, 'LA ' || lpad((i % 150)::text, 3, '0'),
               case when i % 10 < 6 then 'primary' when i % 10 < 9 then 'secondary'
                    else 'special' end,
               ($REGIONS)[1 + (i % 150) % 9], i % 4 = 0, 300 + i % 900, 10 + i % 40,
               case when i < $MEM then (2000 + (
                   case when i < 60 * $B then i / 60 else $B + (i - 60 * $B) % ($T - $B) end
                   + case when i % 50 = 7 then 1 else 0 end) % $T)::text end,
               case when i % 5 <> 0 then (9000000 + i)::text end,
               case when i % 5 <> 0 then date '2024-09-01' end
          from generate_series(0, $N - 1) i;

        insert into school_trusts (urn, joined_on, trust_id, left_on)
        select (100000 + i)::text, date '2015-09-01',
               case when i < 60 * $B then 2000 + i / 60
                    else 2000 + $B + (i - 60 * $B) % ($T - $B) end::text,
               case when i % 50 = 7 then date '2026-01-15' end
          from generate_series(0, $MEM - 1) i;
        insert into school_trusts (urn, joined_on, trust_id, left_on)
        select s.urn, date '2026-01-15', s.trust_id, null
          from schools s where s.trust_id is not null and (s.urn::int - 100000) % 50 = 7;

        insert into teachers (trn, school_urn, given_name, family_name, career_stage, fte,
                              registered_on, left_on, school_since)
        select (1000000 + j)::text, (100000 + (j::bigint * $N / $M))::text, 'G' || j, 'F' || j,
               case when j % 100 < 10 then 'ect_year_1' when j % 100 < 18 then 'ect_year_2'
                    when j % 100 < 25 then 'early_career' when j % 100 < 85 then 'experienced'
                    when j % 100 < 95 then 'middle_leader' else 'senior_leader' end,
               case when j % 7 = 0 then 0.6 else 1.0 end, date '2020-09-01',
               case when j % 50 = 1 then date '2025-12-31' end, date '2020-09-01'
          from generate_series(0, $M - 1) j;

        insert into teacher_years (trn, academic_year, policy_version, hours_entitled,
               funding_entitled_pence, hours_logged, funding_committed_pence,
               funding_spent_pence, minimum_met_on)
        select t.trn, y.year, case when j % 20 <> 0 then 1 end,
               case when j % 20 <> 0 then 35 else 0 end,
               case when j % 20 <> 0 then 50000 else 0 end,
               ((j::bigint * 7919) % 4100) / 100.0,
               case when j % 3 = 0 then 30000 else 0 end,
               case when j % 6 = 0 then 30000 else 0 end,
               case when j % 20 <> 0 and ((j::bigint * 7919) % 4100) / 100.0 >= 35
                    then date '2026-02-01' end
          from generate_series(0, $M - 1) j
          join teachers t on t.trn = (1000000 + j)::text
          cross join (values ('2025/26'), ('2024/25')) y(year);

        insert into mentors (trn, school_urn, trained_on, lead_mentor_of, max_mentees,
                             active_mentees)
        select (1000000 + j)::text, (100000 + (j::bigint * $N / $M))::text, date '2024-07-01',
               null, 3, 0
          from generate_series(19, $M - 1, 20) j;

        insert into mentorships (mentor_trn, assignment_id, mentee_trn, school_urn, programme,
                                 starts_on, ended_on)
        select (1000000 + least(j - j % 20 + 19, $M - 1))::text, 'a' || j,
               (1000000 + j)::text, (100000 + (j::bigint * $N / $M))::text,
               'early_career_induction', date '2025-09-01',
               case when j % 7 = 0 then date '2025-12-01' end
          from generate_series(0, $M - 1) j
         where j % 100 < 18
           and exists (select 1 from mentors m
                        where m.trn = (1000000 + least(j - j % 20 + 19, $M - 1))::text);
        update mentors m set active_mentees = a.n
          from (select mentor_trn, count(*) as n from mentorships where ended_on is null
                 group by mentor_trn) a
         where a.mentor_trn = m.trn;

        insert into providers (provider_id, name, kind, active)
        select 'P' || i, 'Provider ' || i, 'other', true from generate_series(0, 99) i;

        insert into courses (course_id, provider_id, title, kind, npq_type, hours, price_pence,
               government_funded, retired, badge_level, badge_expires_on)
        select 'C' || i, 'P' || (i % 100), 'Course ' || i, ($KINDS)[1 + i % 7], null,
               6 + i % 30, 10000 + (i % 50) * 1000, i % 4 = 0, i % 40 = 0,
               case i % 3 when 0 then 'gold' when 1 then 'silver' end,
               case when i % 3 < 2 then
                    case when i % 9 < 3 then date '2026-01-31' else date '2027-08-31' end end
          from generate_series(0, 1999) i;

        insert into requests (trn, request_id, course_id, school_urn, academic_year, status,
               cost_pence, expected_hours, requested_at)
        select t.trn, 'r' || j || '-' || k,
               'C' || ((power(((j * 13 + k * 7) % 1000) / 1000.0, 2) * 2000)::int % 2000),
               t.school_urn, case when k < 3 then '2025/26' else '2024/25' end,
               (array['approved', 'approved', 'approved', 'approved', 'completed',
                      'completed', 'declined', 'withdrawn', 'requested',
                      'requested'])[1 + (j + k) % 10],
               20000, 6,
               case when k < 3 then timestamptz '2025-09-02 10:00+00'
                    else timestamptz '2024-09-02 10:00+00' end
                   + ((j * (k + 1)) % 190) * interval '1 day'
          from generate_series(0, $M - 1) j
          join teachers t on t.trn = (1000000 + j)::text
          cross join generate_series(0, 4) k;

        update courses c set requests = r.n, enrolments = r.a, completions = r.c,
               cost_completed_pence = r.c * 20000, hours_completed = r.c * c.hours,
               ratings = r.c / 2, rating_total = (r.c / 2) * 4
          from (select course_id, count(*) as n,
                       count(*) filter (where status in ('approved', 'completed')) as a,
                       count(*) filter (where status = 'completed') as c
                  from requests group by course_id) r
         where r.course_id = c.course_id;

        insert into budgets (budget_id, holder, trust_id, school_urn, academic_year,
               allocated_pence, committed_pence, spent_pence, released_pence)
        select 'bs-' || s.urn || '-' || y, 'school', s.trust_id, s.urn, y,
               2000000, 800000, 400000, 50000
          from schools s cross join (values ('2025/26'), ('2024/25')) v(y);
        insert into budgets (budget_id, holder, trust_id, school_urn, academic_year,
               allocated_pence, committed_pence, spent_pence, released_pence)
        select 'bp-' || s.urn || '-' || y, 'national_premium', s.trust_id, s.urn, y,
               500000, 100000, 50000, 0
          from schools s cross join (values ('2025/26'), ('2024/25')) v(y) where s.pp50;
        insert into budgets (budget_id, holder, trust_id, school_urn, academic_year,
               allocated_pence, committed_pence, spent_pence, released_pence)
        select 'bt-' || t.trust_id || '-' || y, 'trust', t.trust_id, null, y,
               20000000, 5000000, 2000000, 100000
          from trusts t cross join (values ('2025/26'), ('2024/25')) v(y);

        insert into school_days (urn, day, academic_year, hours_logged, requests, approvals,
               declines, completions, funding_committed_pence, funding_spent_pence)
        select s.urn, d::date,
               case when d >= date '2025-09-01' then '2025/26' else '2024/25' end,
               1 + (i + extract(doy from d)::int) % 12, 1 + i % 3, i % 2, (i + 1) % 2, i % 2,
               (i % 2) * 20000, ((i + 1) % 2) * 20000
          from generate_series(0, $N - 1) i
          join schools s on s.urn = (100000 + i)::text
          cross join generate_series(date '2024-09-01', date '{today}', interval '1 day') d
         where (i + extract(doy from d)::int) % 4 <> 0;

        insert into school_years (urn, academic_year, hours_logged, requests, approvals,
               declines, completions, funding_entitled_pence, funding_committed_pence,
               funding_spent_pence, grants)
        select d.urn, d.academic_year, sum(hours_logged), sum(requests), sum(approvals),
               sum(declines), sum(completions), 1000000, sum(funding_committed_pence),
               sum(funding_spent_pence), 20
          from school_days d group by d.urn, d.academic_year;

        insert into school_activity_hours (urn, academic_year, activity_type, hours)
        select s.urn, '2025/26', a, 10 + length(s.urn || a) from schools s
         cross join unnest(array['course', 'inset', 'mentoring', 'coaching']) a;
        """).replace("{today}", today.isoformat())
    )
    await refresh_school_summaries(conn, None, today)
    await conn.execute("analyze")
