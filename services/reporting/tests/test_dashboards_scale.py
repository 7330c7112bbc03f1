"""Dashboards on a generated dataset: the refresh of school summaries agrees with a row-by-row
count, and the school and trust dashboards read through indexes (EXPLAIN), not whole tables.

:func:`generate` builds a dataset of any size with set-based SQL (``generate_series``); the
national-size timings in the report were measured with it (22,000 schools, 470,000 teachers,
1,300 trusts).
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import pytest

from cpd_eventstore.db import Connection, Pool
from reporting import dashboards
from reporting.reading import read_model
from reporting.summaries import refresh_school_summaries
from reporting.synthetic import TODAY, YEAR, generate
from reporting.testing import live_generation

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def create_live_generation(pool: Pool) -> str:
    """A live generation (the real meta migrations); returns its schema."""
    return (await live_generation(pool)).schema_name


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


async def explain(conn: Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await conn.fetchval(f"explain (format json) {sql}", *args)
    return _plan_nodes(json.loads(raw)[0]["Plan"])


BIG = ("school_days", "teachers", "teacher_years", "requests", "mentorships", "budgets")


def seq_scanned(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"} & set(BIG)


@pytest.fixture
async def generated(pool: Pool) -> Pool:
    schema = await create_live_generation(pool)
    async with pool.acquire() as conn:
        await conn.execute(f"set search_path to {schema}")
        await generate(conn, schools=2000, teachers=60000, trusts=120)
        await conn.execute("reset search_path")
    return pool


async def test_refresh_agrees_with_a_row_by_row_count_and_is_timed(generated: Pool) -> None:
    async with generated.acquire() as conn, conn.transaction():
        await conn.execute("set local search_path to reporting_g1")
        urns = [r["urn"] for r in await conn.fetch("select urn from schools order by urn")]
        await conn.execute("insert into dirty_schools select urn from schools")
        started = time.perf_counter()
        written = await refresh_school_summaries(conn, urns[:1000], TODAY)
        some = time.perf_counter() - started
        started = time.perf_counter()
        assert await refresh_school_summaries(conn, None, TODAY) == 2000
        every = time.perf_counter() - started
        print(f"\nrefresh 1,000 schools: {some * 1000:.0f} ms; all 2,000: {every * 1000:.0f} ms")
        assert written == 1000
        assert await conn.fetchval("select count(*) from dirty_schools") == 0
        mismatches = await conn.fetch(
            """with expected as (
                   select t.school_urn as urn, count(*) as teachers, sum(t.fte) as fte,
                          count(y.policy_version) as granted,
                          count(*) filter (where t.career_stage like 'ect%') as ects,
                          count(*) filter (where t.career_stage like 'ect%' and not exists (
                              select 1 from mentorships m
                               where m.mentee_trn = t.trn and m.ended_on is null)) as lonely,
                          count(*) filter (where y.policy_version is not null
                                             and y.hours_logged >= y.hours_entitled) as full
                     from teachers t
                     left join teacher_years y on y.trn = t.trn and y.academic_year = $1
                    where t.left_on is null group by t.school_urn)
               select e.urn from expected e join school_summaries s using (urn)
                where (s.teachers, s.fte, s.teachers_granted, s.ects, s.ects_without_mentor,
                       s.progress_histogram[21])
                      is distinct from (e.teachers::int, e.fte, e.granted::int, e.ects::int,
                                        e.lonely::int, e.full::int)
                   or (select sum(h) from unnest(s.progress_histogram) h) <> e.granted""",
            YEAR,
        )
        assert mismatches == []


class Recorder:
    """A connection that records the statements a dashboard runs."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self.conn.fetchrow(sql, *args)


async def test_school_and_trust_dashboards_read_through_indexes(generated: Pool) -> None:
    urn, trust_id = "100007", "2000"
    async with read_model(generated) as conn:
        school_statements = Recorder(conn)
        school = await dashboards.school_dashboard(
            cast(Connection, school_statements), urn, YEAR, TODAY
        )
        trust_statements = Recorder(conn)
        trust = await dashboards.trust_dashboard(
            cast(Connection, trust_statements), trust_id, YEAR, TODAY
        )
        assert len(school_statements.statements) == 4
        assert len(trust_statements.statements) == 4
        for sql, args in school_statements.statements + trust_statements.statements:
            nodes = await explain(conn, sql, *args)
            assert seq_scanned(nodes) == set(), sql
        start, end = dashboards.year_bounds(YEAR)
        nodes = await explain(conn, dashboards._TRUST_SCHOOLS_SQL, trust_id, start, end, YEAR)
        assert "school_days_pkey" in {n.get("Index Name") for n in nodes}

        assert school is not None
        assert trust is not None
        # trust 2000 had schools 0-59; 7 and 57 moved to trust 2001 on 15 January
        assert trust.schools == 58
        moved = [s for s in trust.by_school if not s.member_now]
        assert [s.urn for s in moved] == ["100007", "100057"]
        assert all(s.activity.requests > 0 for s in moved)
        next_trust = await dashboards.trust_dashboard(conn, "2001", YEAR, TODAY)
        assert next_trust is not None
        whole = await conn.fetchval(
            "select sum(requests) from school_days where urn = $1 and academic_year = $2",
            urn,
            YEAR,
        )
        split = [
            s.activity.requests for t in (trust, next_trust) for s in t.by_school if s.urn == urn
        ]
        assert sum(split) == whole

        timings = []
        for _ in range(50):
            started = time.perf_counter()
            await dashboards.school_dashboard(conn, urn, YEAR, TODAY)
            await dashboards.trust_dashboard(conn, trust_id, YEAR, TODAY)
            timings.append(time.perf_counter() - started)
        print(f"\nschool + trust dashboard: median {sorted(timings)[25] * 1000:.1f} ms")
