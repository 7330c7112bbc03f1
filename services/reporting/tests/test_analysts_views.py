"""The analysts' SQL views: pseudonyms only, and a read-only role that sees nothing else."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from cpd_eventstore.db import Pool
from reporting import model
from reporting.analyst_views import (
    ANALYST_ROLE,
    FORBIDDEN_COLUMNS,
    VIEWS,
    ensure_analyst_role,
    install_analyst_views,
)

pytestmark = pytest.mark.integration

META_DDL = """
create schema if not exists reporting_meta;
create table if not exists reporting_meta.generations (
    generation int primary key, schema_name text not null unique, model_version int not null,
    status text not null, as_of date, created_at timestamptz not null default now(),
    live_since timestamptz, retired_at timestamptz
);
"""


async def make_generation(pool: Pool, generation: int, status: str = "live") -> str:
    schema = f"reporting_g{generation}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(META_DDL)
        await conn.execute(f"create schema {schema}; set local search_path to {schema}")
        await conn.execute(model.DDL)
        await conn.execute(
            "insert into reporting_meta.generations (generation, schema_name, model_version,"
            " status) values ($1, $2, $3, $4)",
            generation,
            schema,
            model.MODEL_VERSION,
            status,
        )
    return schema


async def fill(pool: Pool, schema: str, teachers: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"set local search_path to {schema}")
        await conn.execute(
            """
            insert into schools (urn, name, local_authority, phase, region, pp50, trust_id)
            values ('100001', 'Oak Primary', 'Camden', 'primary', 'London', true, 'T1');
            insert into trusts (trust_id, name, region, cpd_lead_trn)
            values ('T1', 'Oak Trust', 'London', '7000001');
            insert into teachers (trn, school_urn, given_name, family_name, career_stage, fte,
                                  registered_on, school_since)
            select lpad(i::text, 7, '0'), '100001', 'Given' || i, 'Family' || i, 'ect', 1.0,
                   date '2024-09-01', date '2024-09-01'
              from generate_series(1, $1) i;
            insert into mentorships (mentor_trn, assignment_id, mentee_trn, school_urn,
                                     programme, starts_on)
            values ('0000001', 'a1', '0000002', '100001', 'ecf', date '2024-09-01');
            """.replace("$1", str(int(teachers)))
        )


async def login_role(pool: Pool, member_of: str | None) -> str:
    name = f"analyst_{uuid.uuid4().hex[:10]}"
    await pool.execute(f"create role {name} login")
    if member_of:
        await pool.execute(f"grant {member_of} to {name}")
    return name


@pytest.fixture
async def live(pool: Pool) -> str:
    schema = await make_generation(pool, 1)
    await fill(pool, schema, teachers=5)
    async with pool.acquire() as conn, conn.transaction():
        await install_analyst_views(conn, schema)
    return schema


@pytest.fixture
async def analyst(pool: Pool, database_url: str, live: str) -> AsyncIterator[asyncpg.Connection]:
    name = await login_role(pool, ANALYST_ROLE)
    conn = await asyncpg.connect(database_url, user=name)
    assert await conn.fetchval("select current_user") == name
    yield conn
    await conn.close()
    await pool.execute(f"drop role {name}")


async def test_an_analyst_reads_the_views_with_pseudonyms(
    pool: Pool, analyst: asyncpg.Connection
) -> None:
    rows = await analyst.fetch("select * from analytics.teachers order by teacher_id")
    assert len(rows) == 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["teacher_id"]) for r in rows)
    expected = await pool.fetchval("select analytics.pseudonym('0000002')")
    assert expected in {r["teacher_id"] for r in rows}
    mentoring = await analyst.fetchrow("select * from analytics.mentoring")
    assert mentoring is not None
    assert mentoring["mentee_id"] == expected
    assert mentoring["mentor_id"] == await pool.fetchval("select analytics.pseudonym('0000001')")
    trust = await analyst.fetchrow("select * from analytics.trusts")
    assert trust is not None
    assert trust["cpd_lead_id"] == await pool.fetchval("select analytics.pseudonym('7000001')")
    for view in VIEWS:  # every view answers the analyst
        await analyst.fetch(f"select * from analytics.{view.name} limit 1")


@pytest.mark.parametrize(
    "statement",
    [
        "select * from reporting_g1.teachers",
        "select trn from reporting_g1.requests",
        "select * from reporting_meta.pseudonym_key",
        "select * from reporting_meta.generations",
        "select analytics.pseudonym('0000001')",
        "delete from analytics.school_years",  # a simple view: updatable, not by analysts
        "update analytics.budgets set spent_pence = 0",
        "create view analytics.mine as select 1",
    ],
)
async def test_an_analyst_is_refused_everything_else(
    analyst: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await analyst.execute(statement)


async def test_a_login_without_the_analyst_role_is_refused_the_views(
    pool: Pool, database_url: str, live: str
) -> None:
    name = await login_role(pool, None)
    try:
        conn = await asyncpg.connect(database_url, user=name)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("select * from analytics.teachers")
        finally:
            await conn.close()
    finally:
        await pool.execute(f"drop role {name}")


async def test_no_view_has_a_name_or_a_trn(pool: Pool, live: str) -> None:
    columns = await pool.fetch(
        "select table_name, column_name from information_schema.columns"
        " where table_schema = 'analytics'"
    )
    views = {r["table_name"] for r in columns}
    assert views == {view.name for view in VIEWS}
    found = {r["column_name"] for r in columns}
    assert not found & FORBIDDEN_COLUMNS
    assert not [c for c in found if "name" in c and c not in {"name", "provider_name"}]
    # and no value of a teacher-level view holds a TRN or a name
    for view in VIEWS:
        text = await pool.fetchval(f"select string_agg(v::text, ' ') from analytics.{view.name} v")
        assert "Given" not in (text or "")
        assert "Family" not in (text or "")
        assert not re.search(r"(?<![0-9a-f])000000[1-5](?![0-9a-f])", text or ""), view.name


async def test_a_switch_repoints_the_views_and_keeps_pseudonyms_and_grants(
    pool: Pool, analyst: asyncpg.Connection, live: str
) -> None:
    before = {r["teacher_id"] for r in await analyst.fetch("select * from analytics.teachers")}
    key = await pool.fetchval("select key from reporting_meta.pseudonym_key")
    g2 = await make_generation(pool, 2, status="building")
    await fill(pool, g2, teachers=8)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("update reporting_meta.generations set status = 'retired'")
        await conn.execute(
            "update reporting_meta.generations set status = 'live' where schema_name = $1", g2
        )
        await install_analyst_views(conn, g2)
    after = {r["teacher_id"] for r in await analyst.fetch("select * from analytics.teachers")}
    assert len(after) == 8
    assert before < after  # the same teachers have the same pseudonyms in the new generation
    assert await pool.fetchval("select key from reporting_meta.pseudonym_key") == key
    await pool.execute("drop schema reporting_g1 cascade")  # the old one retires: views stay
    assert await analyst.fetchval("select count(*) from analytics.teachers") == 8


async def switch_to_empty(conn: Any) -> None:
    async with conn.transaction():
        await conn.execute("create schema reporting_g9")  # empty: views cannot be made
        await install_analyst_views(conn, "reporting_g9")


async def test_a_failed_switch_leaves_the_views_as_they_were(pool: Pool, live: str) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.UndefinedTableError):
            await switch_to_empty(conn)
    assert await pool.fetchval("select count(*) from analytics.teachers") == 5


async def test_without_the_right_to_create_roles_the_install_goes_on(
    pool: Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = await login_role(pool, None)
    missing = f"cpd_analyst_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr("reporting.analyst_views.ANALYST_ROLE", missing)
    try:
        conn = await asyncpg.connect(database_url, user=name)
        try:
            async with conn.transaction():
                await conn.execute("create temp table work (n int)")
                assert await ensure_analyst_role(conn) is False
                await conn.execute("insert into work values (1)")  # the transaction lives on
        finally:
            await conn.close()
    finally:
        await pool.execute(f"drop role {name}")
    assert not await pool.fetchval("select true from pg_roles where rolname = $1", missing)
