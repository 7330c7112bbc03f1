"""Dashboards on a small hand-made read model, with exact figures: a school with mixed progress
(on track pro rata to a chosen day), a trust one of whose schools moved to another trust
mid-year (flows split at the date), the nation by disadvantage band, and a course report.

The generation (schema ``reporting_g1``) is created by the test and filled with SQL, as the
projection would leave it; summaries come from :func:`refresh_school_summaries`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpd_eventstore.db import Connection, Pool
from reporting.dashboards import (
    HistogramBucket,
    PotFunding,
    TopCourse,
    Uptake,
    area_summary,
    course_report,
    course_uptake,
    on_track,
    required_bucket,
    school_dashboard,
    trust_dashboard,
    year_elapsed,
)
from reporting.model import DDL
from reporting.reading import read_model
from reporting.summaries import refresh_school_summaries

YEAR = "2025/26"
#: 101 days of 365 elapsed by the end of the day (27.7 %): 25 % of the hours entitled needed.
DEC_10 = date(2025, 12, 10)
#: 182 days of 365 (49.9 %): 45 % needed.
MAR_1 = date(2026, 3, 1)
MOVED_ON = date(2026, 1, 15)

A, B, C, D = "100001", "100002", "100003", "100004"
T1, T2 = "3001", "3002"

META = """
create schema reporting_meta;
create table reporting_meta.generations (
    generation int primary key, schema_name text not null unique, model_version int not null,
    status text not null, as_of date, created_at timestamptz not null default now(),
    live_since timestamptz, retired_at timestamptz);
"""

FIXTURE = """
insert into trusts (trust_id, name, region, funding_model, central_share_percent,
                    funding_model_from, cpd_lead_trn) values
    ('3001', 'Oak Trust', 'london', 'hybrid', 30, '2024-09-01', '9000001'),
    ('3002', 'Elm Trust', 'london', 'delegated', null, '2023-09-01', null);

-- A: in Oak all along; B: moved from Oak to Elm on 15 January; C: joined Oak on 15 January;
-- D: no trust, no teachers
insert into schools (urn, name, local_authority, phase, region, pp50, trust_id, cpd_lead_trn,
                     cpd_lead_since) values
    ('100001', 'Alder Primary', 'Camden', 'primary', 'london', true, '3001', '1000001',
     '2025-09-01'),
    ('100002', 'Birch Secondary', 'Camden', 'secondary', 'london', false, '3002', '1000010',
     '2025-09-01'),
    ('100003', 'Cedar Primary', 'Newcastle', 'primary', 'north_east', false, '3001', null, null),
    ('100004', 'Dogwood Special', 'Newcastle', 'special', 'north_east', true, null, null, null);
insert into school_trusts (urn, joined_on, trust_id, left_on) values
    ('100001', '2015-09-01', '3001', null),
    ('100002', '2016-09-01', '3001', '2026-01-15'),
    ('100002', '2026-01-15', '3002', null),
    ('100003', '2026-01-15', '3001', null);

insert into teachers (trn, school_urn, given_name, family_name, career_stage, fte,
                      registered_on, left_on, school_since) values
    ('1000001', '100001', 'Ann', 'A', 'experienced', 1.0, '2020-09-01', null, '2020-09-01'),
    ('1000002', '100001', 'Bob', 'B', 'experienced', 0.5, '2020-09-01', null, '2020-09-01'),
    ('1000003', '100001', 'Cat', 'C', 'ect_year_1', 1.0, '2025-09-01', null, '2025-09-01'),
    ('1000004', '100001', 'Dan', 'D', 'ect_year_2', 1.0, '2024-09-01', null, '2024-09-01'),
    ('1000005', '100001', 'Eve', 'E', 'ect_year_1', 0.8, '2025-09-01', null, '2025-09-01'),
    ('1000006', '100001', 'Fay', 'F', 'middle_leader', 1.0, '2015-09-01', null, '2015-09-01'),
    ('1000007', '100001', 'Gus', 'G', 'experienced', 1.0, '2015-09-01', '2025-10-31',
     '2015-09-01'),
    ('1000008', '100001', 'Hal', 'H', 'senior_leader', 1.0, '2010-09-01', null, '2010-09-01'),
    ('1000009', '100003', 'Ivy', 'I', 'experienced', 1.0, '2012-09-01', null, '2012-09-01'),
    ('1000010', '100002', 'Jon', 'J', 'experienced', 1.0, '2012-09-01', null, '2012-09-01'),
    ('1000011', '100002', 'Kay', 'K', 'ect_year_1', 1.0, '2025-09-01', null, '2025-09-01');

-- progress: 100 %, 30 %, 25 % (exactly), 24.97 %, not granted, 0 %, (left), (last year only)
insert into teacher_years (trn, academic_year, policy_version, hours_entitled,
                           funding_entitled_pence, hours_logged, minimum_met_on) values
    ('1000001', '2025/26', 1, 35, 35000, 35, '2025-11-20'),
    ('1000002', '2025/26', 1, 17.5, 17500, 5.25, null),
    ('1000003', '2025/26', 1, 35, 35000, 8.75, null),
    ('1000004', '2025/26', 1, 35, 35000, 8.74, null),
    ('1000005', '2025/26', null, 0, 0, 2, null),
    ('1000006', '2025/26', 1, 35, 35000, 0, null),
    ('1000007', '2025/26', 1, 35, 35000, 30, null),
    ('1000008', '2024/25', 1, 35, 35000, 40, '2025-05-01'),
    ('1000009', '2025/26', 1, 35, 35000, 35, '2026-02-01'),
    ('1000010', '2025/26', 1, 35, 35000, 14, null);

insert into mentors (trn, school_urn, trained_on, max_mentees, active_mentees) values
    ('1000006', '100001', '2024-07-01', 2, 1);
insert into mentorships (mentor_trn, assignment_id, mentee_trn, school_urn, programme,
                         starts_on, ended_on) values
    ('1000006', 'm1', '1000005', '100001', 'early_career_induction', '2025-09-01', null),
    ('1000006', 'm0', '1000004', '100001', 'early_career_induction', '2024-09-01',
     '2025-07-20');

insert into providers (provider_id, name, kind) values ('P1', 'Best Provider', 'npq_lead_provider');
insert into courses (course_id, provider_id, title, kind, npq_type, hours, price_pence,
                     government_funded, badge_level, badge_expires_on, requests, enrolments,
                     completions, cost_completed_pence, hours_completed, ratings, rating_total)
values
    ('C1', 'P1', 'Leading Teaching', 'npq', 'NPQLT', 20, 150000, true, 'gold', '2026-08-31',
     10, 8, 6, 600000, 120, 4, 17),
    ('C2', 'P1', 'Maths Hub', 'hub', null, 6, 0, false, 'silver', '2025-11-30',
     3, 3, 0, 0, 0, 0, 0);
insert into course_feedback (course_id, trn, rating, submitted_at) values
    ('C1', '1000001', 5, '2025-12-01'), ('C1', '1000002', 4, '2025-12-01'),
    ('C1', '1000003', 4, '2025-12-01'), ('C1', '1000010', 4, '2025-12-01');

insert into requests (trn, request_id, course_id, school_urn, academic_year, status, cost_pence,
                      expected_hours, requested_at) values
    ('1000001', 'r1', 'C1', '100001', '2025/26', 'approved', 150000, 20, '2025-09-10 09:00Z'),
    ('1000002', 'r2', 'C1', '100001', '2025/26', 'completed', 150000, 20, '2025-09-11 09:00Z'),
    ('1000003', 'r3', 'C1', '100001', '2025/26', 'requested', 150000, 20, '2025-11-01 09:00Z'),
    ('1000004', 'r4', 'C2', '100001', '2025/26', 'approved', 0, 6, '2025-10-01 09:00Z'),
    ('1000006', 'r5', 'C3', '100001', '2025/26', 'declined', 9000, 3, '2025-10-02 09:00Z'),
    ('1000008', 'r6', 'C1', '100001', '2024/25', 'withdrawn', 150000, 20, '2025-03-01 09:00Z'),
    ('1000010', 'r7', 'C2', '100002', '2025/26', 'approved', 0, 6, '2025-10-01 09:00Z'),
    ('1000010', 'r8', 'C1', '100002', '2025/26', 'requested', 150000, 20,
     '2026-02-01 09:00Z');

insert into budgets (budget_id, holder, trust_id, school_urn, academic_year, allocated_pence,
                     committed_pence, spent_pence, released_pence) values
    ('b-a', 'school', '3001', '100001', '2025/26', 1000000, 300000, 100000, 50000),
    ('b-a-premium', 'national_premium', null, '100001', '2025/26', 200000, 0, 0, 0),
    ('b-a-old', 'school', '3001', '100001', '2024/25', 999999, 0, 0, 0),
    ('b-oak', 'trust', '3001', null, '2025/26', 5000000, 1000000, 400000, 0),
    ('b-elm', 'trust', '3002', null, '2025/26', 2000000, 0, 0, 0),
    ('b-b', 'school', '3002', '100002', '2025/26', 400000, 0, 0, 0),
    ('b-c', 'school', null, '100003', '2025/26', 300000, 60000, 50000, 0);

-- flows: A's days add up to its year row; B's and C's days straddle 15 January
insert into school_days (urn, day, academic_year, hours_logged, requests, approvals, declines,
                         completions, funding_committed_pence, funding_spent_pence) values
    ('100001', '2025-09-10', '2025/26', 40, 2, 1, 0, 0, 30000, 0),
    ('100001', '2025-10-01', '2025/26', 19.74, 2, 2, 1, 1, 30000, 20000),
    ('100002', '2025-06-01', '2024/25', 100, 9, 9, 0, 0, 0, 0),
    ('100002', '2025-10-01', '2025/26', 3, 1, 1, 0, 0, 10000, 0),
    ('100002', '2026-01-14', '2025/26', 2, 0, 0, 0, 0, 0, 5000),
    ('100002', '2026-01-15', '2025/26', 4, 2, 0, 0, 0, 0, 0),
    ('100002', '2026-03-01', '2025/26', 1, 0, 0, 0, 1, 0, 0),
    ('100003', '2026-01-10', '2025/26', 7, 0, 0, 0, 0, 0, 0),
    ('100003', '2026-02-01', '2025/26', 6, 0, 2, 0, 0, 0, 0);
insert into school_years (urn, academic_year, hours_logged, requests, approvals, declines,
                          completions, funding_entitled_pence, funding_committed_pence,
                          funding_spent_pence, grants) values
    ('100001', '2025/26', 59.74, 4, 3, 1, 1, 175000, 60000, 20000, 5),
    ('100002', '2025/26', 10, 3, 1, 0, 1, 35000, 10000, 5000, 1),
    ('100002', '2024/25', 100, 9, 9, 0, 0, 0, 0, 0, 0),
    ('100003', '2025/26', 13, 0, 2, 0, 0, 35000, 0, 0, 1);
insert into school_activity_hours (urn, academic_year, activity_type, hours) values
    ('100001', '2025/26', 'course', 40), ('100001', '2025/26', 'mentoring', 19.74);
"""


async def create_generation(conn: Connection) -> None:
    await conn.execute(META)
    await conn.execute("create schema reporting_g1; set search_path to reporting_g1")
    await conn.execute(DDL)
    await conn.execute(
        "insert into reporting_meta.generations values (1, 'reporting_g1', 1, 'live')"
    )


@pytest.fixture
async def model(pool: Pool) -> Pool:
    async with pool.acquire() as conn:
        await create_generation(conn)
        await conn.execute(FIXTURE)
        await conn.execute("insert into dirty_schools values ($1), ($2)", A, B)
        await refresh_school_summaries(conn, None, DEC_10)
        await conn.execute("reset search_path")
    return pool


def test_year_elapsed_and_the_bucket_required() -> None:
    assert year_elapsed(YEAR, date(2025, 8, 31)) == 0
    assert year_elapsed(YEAR, date(2025, 9, 1)) * 365 == 1
    assert year_elapsed(YEAR, DEC_10) * 365 == 101
    assert year_elapsed(YEAR, date(2026, 8, 31)) == 1
    assert year_elapsed("2027/28", date(2028, 2, 29)) * 366 == 182
    histogram = [1, 0, 0, 0, 1, 1, 1] + [0] * 13 + [1]
    assert required_bucket(YEAR, date(2025, 9, 1)) == 0
    assert on_track(histogram, YEAR, date(2025, 9, 1)) == 5
    assert required_bucket(YEAR, DEC_10) == 5
    assert on_track(histogram, YEAR, DEC_10) == 3
    assert on_track(histogram, YEAR, MAR_1) == 1
    assert on_track(histogram, YEAR, date(2026, 8, 31)) == 1
    assert on_track(histogram, YEAR, date(2026, 12, 1)) == 1


@pytest.mark.integration
async def test_refresh_writes_the_summaries_and_clears_dirty_schools(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await create_generation(conn)
        await conn.execute(FIXTURE)
        await conn.execute("insert into dirty_schools values ($1), ($2), ($3)", A, B, C)
        assert await refresh_school_summaries(conn, [B, A, A], DEC_10) == 2
        assert await refresh_school_summaries(conn, [], DEC_10) == 0
        assert [r["urn"] for r in await conn.fetch("select urn from dirty_schools")] == [C]
        rows = {r["urn"]: dict(r) for r in await conn.fetch("select * from school_summaries")}
        assert set(rows) == {A, B}
        a = rows[A]
        del a["refreshed_at"]
        assert a == {
            "urn": A,
            "academic_year": YEAR,
            "teachers": 7,
            "fte": Decimal("6.30"),
            "teachers_granted": 5,
            "hours_entitled": Decimal("157.50"),
            "hours_logged": Decimal("59.74"),
            "minimum_met": 1,
            "progress_histogram": [1, 0, 0, 0, 1, 1, 1] + [0] * 13 + [1],
            "ects": 3,
            "ects_without_mentor": 2,
            "mentors": 1,
            "mentor_capacity": 2,
            "mentees_assigned": 1,
        }
        assert rows[B]["progress_histogram"] == [0] * 8 + [1] + [0] * 12
        assert (rows[B]["ects"], rows[B]["ects_without_mentor"], rows[B]["mentors"]) == (1, 1, 0)

        assert await refresh_school_summaries(conn, None, DEC_10) == 4
        assert await conn.fetchval("select count(*) from dirty_schools") == 0
        d = await conn.fetchrow("select * from school_summaries where urn = $1", D)
        assert d is not None
        assert (d["teachers"], d["fte"], d["progress_histogram"]) == (0, 0, [0] * 21)

        # a new academic year: nobody is granted yet, the headcount stays
        await refresh_school_summaries(conn, [A], date(2026, 9, 1))
        a2 = await conn.fetchrow("select * from school_summaries where urn = $1", A)
        assert a2 is not None
        assert (a2["academic_year"], a2["teachers"], a2["teachers_granted"]) == ("2026/27", 7, 0)
        assert a2["progress_histogram"] == [0] * 21


@pytest.mark.integration
async def test_school_dashboard_counts_teachers_on_track_pro_rata(model: Pool) -> None:
    async with read_model(model) as conn:
        school = await school_dashboard(conn, A, YEAR, DEC_10)
        later = await school_dashboard(conn, A, YEAR, MAR_1)
        first_day = await school_dashboard(conn, A, YEAR, date(2025, 9, 1))
        past_year = await school_dashboard(conn, A, "2024/25", DEC_10)
        assert await school_dashboard(conn, "999999", YEAR, DEC_10) is None
    assert school is not None
    assert later is not None
    assert first_day is not None
    assert past_year is not None
    assert (school.name, school.trust_id, school.trust_name) == ("Alder Primary", T1, "Oak Trust")
    assert school.cpd_lead_present
    assert school.pp50
    assert (school.teachers, school.fte) == (7, Decimal("6.30"))

    progress = school.progress
    assert progress is not None
    assert progress.required_percent == 25
    assert progress.year_elapsed_percent == Decimal("27.67")
    assert (progress.teachers_granted, progress.on_track) == (5, 3)
    assert progress.on_track_percent == Decimal("60.00")
    assert progress.minimum_met == 1
    assert progress.hours_entitled == Decimal("157.50")
    assert progress.hours_logged == Decimal("59.74")
    assert progress.average_hours_logged == Decimal("8.53")
    assert [b.teachers for b in progress.histogram] == [1, 0, 0, 0, 1, 1, 1] + [0] * 13 + [1]
    assert progress.histogram[5] == HistogramBucket(from_percent=25, to_percent=30, teachers=1)
    assert progress.histogram[20] == HistogramBucket(from_percent=100, to_percent=None, teachers=1)
    assert later.progress is not None
    assert (later.progress.required_percent, later.progress.on_track) == (45, 1)
    assert first_day.progress is not None
    assert first_day.progress.on_track == 5
    assert past_year.progress is None  # the summary describes 2025/26

    m = school.mentoring
    assert (m.ects, m.ects_with_mentor, m.ects_without_mentor) == (3, 1, 2)
    assert (m.mentors, m.mentor_capacity, m.mentees_assigned) == (1, 2, 1)
    assert m.capacity_used_percent == Decimal("50.00")

    a = school.activity
    assert (a.hours_logged, a.requests, a.approvals, a.declines, a.completions) == (
        Decimal("59.74"),
        4,
        3,
        1,
        1,
    )
    assert (a.funding_committed_pence, a.funding_spent_pence) == (60000, 20000)
    assert school.funding_entitled_pence == 175000
    assert [(h.activity_type, h.hours) for h in school.hours_by_activity] == [
        ("course", Decimal("40.00")),
        ("mentoring", Decimal("19.74")),
    ]
    assert school.funding == [
        PotFunding(
            pot="school",
            budgets=1,
            allocated_pence=1000000,
            committed_pence=150000,
            spent_pence=100000,
            released_pence=50000,
            available_pence=750000,
        ),
        PotFunding(
            pot="trust",
            budgets=1,
            allocated_pence=5000000,
            committed_pence=600000,
            spent_pence=400000,
            released_pence=0,
            available_pence=4000000,
        ),
        PotFunding(
            pot="national_premium",
            budgets=1,
            allocated_pence=200000,
            committed_pence=0,
            spent_pence=0,
            released_pence=0,
            available_pence=200000,
        ),
    ]
    assert school.top_courses == [
        TopCourse(
            course_id="C1",
            title="Leading Teaching",
            kind="npq",
            badge_level="gold",
            requests=3,
            approvals=2,
            completions=1,
        ),
        TopCourse(
            course_id="C2",
            title="Maths Hub",
            kind="hub",
            badge_level=None,  # lapsed on 30 November
            requests=1,
            approvals=1,
            completions=0,
        ),
        TopCourse(
            course_id="C3",
            title=None,
            kind=None,
            badge_level=None,
            requests=1,
            approvals=0,
            completions=0,
        ),
    ]


@pytest.mark.integration
async def test_trust_flows_split_at_the_date_a_school_moved(model: Pool) -> None:
    async with read_model(model) as conn:
        oak = await trust_dashboard(conn, T1, YEAR, MAR_1)
        elm = await trust_dashboard(conn, T2, YEAR, MAR_1)
        assert await trust_dashboard(conn, "9999", YEAR, MAR_1) is None
    assert oak is not None
    assert elm is not None
    assert (oak.funding_model, oak.central_share_percent) == ("hybrid", Decimal("30.00"))
    assert oak.funding_model_from == date(2024, 9, 1)
    assert oak.cpd_lead_present

    # stock: the schools in Oak today (A and C, which joined), not B
    assert (oak.schools, oak.schools_with_cpd_lead, oak.teachers) == (2, 1, 8)
    assert oak.fte == Decimal("7.30")
    assert oak.progress is not None
    assert (oak.progress.teachers_granted, oak.progress.on_track) == (6, 2)
    assert oak.progress.on_track_percent == Decimal("33.33")
    assert oak.progress.minimum_met == 2
    assert (oak.mentoring.ects, oak.mentoring.ects_without_mentor) == (3, 2)

    # flows: A all year; B up to 14 January; C from 15 January
    a = oak.activity
    assert a.hours_logged == Decimal("70.74")
    assert (a.requests, a.approvals, a.declines, a.completions) == (5, 6, 1, 1)
    assert (a.funding_committed_pence, a.funding_spent_pence) == (70000, 25000)
    by_school = {s.urn: s for s in oak.by_school}
    assert list(by_school) == [A, B, C]
    assert [s.member_now for s in oak.by_school] == [True, False, True]
    assert by_school[B].activity.hours_logged == Decimal("5.00")
    assert by_school[B].activity.funding_spent_pence == 5000
    assert (by_school[B].teachers, by_school[B].teachers_granted) == (0, 0)
    assert by_school[C].activity.hours_logged == Decimal("6.00")
    assert (by_school[C].teachers, by_school[C].on_track) == (1, 1)
    assert (by_school[A].on_track, by_school[A].on_track_percent) == (1, Decimal("20.00"))
    assert by_school[A].capacity_used_percent == Decimal("50.00")

    e = elm.activity
    assert (e.hours_logged, e.requests, e.approvals, e.completions) == (Decimal("5.00"), 2, 0, 1)
    assert (elm.schools, elm.teachers) == (1, 2)
    assert [s.urn for s in elm.by_school] == [B]

    # budgets: Oak's central pot, A's and C's delegated pots, A's premium
    pots = {p.pot: p for p in oak.funding}
    assert (pots["trust"].allocated_pence, pots["trust"].spent_pence) == (5000000, 400000)
    assert (pots["school"].budgets, pots["school"].allocated_pence) == (2, 1300000)
    assert pots["school"].spent_pence == 150000
    assert pots["national_premium"].allocated_pence == 200000
    assert oak.central_spent_percent == Decimal("72.73")

    # requests while in the trust: B's October request counts for Oak, its February one for Elm
    assert [(c.course_id, c.requests, c.approvals) for c in oak.top_courses] == [
        ("C1", 3, 2),
        ("C2", 2, 2),
        ("C3", 1, 0),
    ]
    assert [(c.course_id, c.requests, c.approvals) for c in elm.top_courses] == [("C1", 1, 0)]


@pytest.mark.integration
async def test_nation_by_disadvantage_band(model: Pool) -> None:
    async with read_model(model) as conn:
        nation = await area_summary(conn, "nation", None, YEAR, DEC_10)
        london = await area_summary(conn, "region", "london", YEAR, DEC_10)
        newcastle = await area_summary(conn, "local_authority", "Newcastle", YEAR, DEC_10)
        assert await area_summary(conn, "local_authority", "Nowhere", YEAR, DEC_10) is None
    assert nation is not None
    assert london is not None
    assert newcastle is not None

    total = nation.total
    assert (total.rollout.schools, total.rollout.schools_with_cpd_lead) == (4, 2)
    assert (total.rollout.teachers, total.rollout.teachers_granted) == (10, 7)
    assert (total.rollout.on_track, total.rollout.on_track_percent) == (5, Decimal("71.43"))

    pp50, others = sorted(nation.by_disadvantage, key=lambda g: not g.pp50)
    assert (pp50.pp50, others.pp50) == (True, False)
    assert (pp50.rollout.schools, pp50.rollout.schools_with_cpd_lead) == (2, 1)
    assert (pp50.rollout.teachers, pp50.rollout.teachers_granted) == (7, 5)
    assert (pp50.rollout.on_track, pp50.rollout.on_track_percent) == (3, Decimal("60.00"))
    assert pp50.rollout.schools_with_cpd_lead_percent == Decimal("50.00")
    assert (others.rollout.schools, others.rollout.teachers) == (2, 3)
    assert (others.rollout.teachers_granted, others.rollout.on_track) == (2, 2)
    assert others.rollout.on_track_percent == Decimal("100.00")

    assert (pp50.spend.funding_entitled_pence, pp50.spend.funding_spent_pence) == (175000, 20000)
    assert pp50.spend.spent_percent == Decimal("11.43")
    assert pp50.spend.school_budgets_allocated_pence == 1200000
    assert (others.spend.funding_entitled_pence, others.spend.funding_spent_pence) == (70000, 5000)
    assert others.spend.spent_percent == Decimal("7.14")
    assert others.spend.school_budgets_allocated_pence == 700000

    assert (pp50.mentoring.ects, pp50.mentoring.ects_without_mentor) == (3, 2)
    assert (others.mentoring.ects, others.mentoring.ects_without_mentor) == (1, 1)
    assert pp50.mentoring.capacity_used_percent == Decimal("50.00")
    assert others.mentoring.capacity_used_percent is None

    assert [(g.phase, g.rollout.schools) for g in nation.by_phase] == [
        ("primary", 2),
        ("secondary", 1),
        ("special", 1),
    ]
    assert [(p.pot, p.allocated_pence) for p in nation.funding] == [
        ("school", 1700000),
        ("trust", 7000000),
        ("national_premium", 200000),
    ]
    assert nation.course_uptake == [
        Uptake(kind="npq", badge_level="gold", courses=1, requests=4, approvals=2, completions=1),
        Uptake(kind="hub", badge_level=None, courses=1, requests=2, approvals=2, completions=0),
        Uptake(kind=None, badge_level=None, courses=1, requests=1, approvals=0, completions=0),
    ]

    assert (london.total.rollout.schools, london.total.rollout.teachers) == (2, 9)
    assert [(p.pot, p.allocated_pence) for p in london.funding] == [
        ("school", 1400000),
        ("trust", 7000000),
        ("national_premium", 200000),
    ]
    assert [(u.kind, u.requests) for u in london.course_uptake] == [
        ("npq", 4),
        ("hub", 2),
        (None, 1),
    ]
    assert (newcastle.total.rollout.schools, newcastle.total.rollout.teachers) == (2, 1)
    assert [(p.pot, p.allocated_pence) for p in newcastle.funding] == [("school", 300000)]
    assert newcastle.course_uptake == []


@pytest.mark.integration
async def test_course_report_and_uptake(model: Pool) -> None:
    async with read_model(model) as conn:
        report = await course_report(conn, "C1", YEAR, DEC_10)
        lapsed = await course_report(conn, "C2", YEAR, DEC_10)
        uptake = await course_uptake(conn, YEAR, DEC_10)
        assert await course_report(conn, "C9", YEAR, DEC_10) is None
    assert report is not None
    assert lapsed is not None
    assert (report.title, report.provider_name, report.kind) == (
        "Leading Teaching",
        "Best Provider",
        "npq",
    )
    assert (report.badge_level, report.badge_expires_on) == ("gold", date(2026, 8, 31))
    assert (report.requests, report.enrolments, report.completions) == (10, 8, 6)
    assert report.completion_percent == Decimal("75.00")
    assert (report.ratings, report.average_rating) == (4, Decimal("4.25"))
    assert [(r.rating, r.teachers) for r in report.ratings_by_value] == [(4, 3), (5, 1)]
    assert report.hours_delivered == Decimal("120.00")
    assert report.cost_per_hour_pence == 5000
    assert [
        (y.academic_year, y.requests, y.approvals, y.completions, y.withdrawals)
        for y in report.by_year
    ] == [("2024/25", 1, 0, 0, 1), ("2025/26", 4, 2, 1, 0)]
    assert report.year is not None
    assert report.year.requests == 4
    assert (lapsed.badge_level, lapsed.cost_per_hour_pence, lapsed.average_rating) == (
        None,
        None,
        None,
    )

    assert [(u.kind, u.badge_level, u.requests, u.approvals) for u in uptake.by_kind_and_badge] == [
        ("npq", "gold", 4, 2),
        ("hub", None, 2, 2),
        (None, None, 1, 0),
    ]
    assert [(c.course_id, c.requests, c.approvals) for c in uptake.top_courses] == [
        ("C1", 4, 2),
        ("C2", 2, 2),
        ("C3", 1, 0),
    ]
