"""The analysts' API on a real PostgreSQL: filters, sorting, keyset paging, CSV and Parquet."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from starlette.requests import ClientDisconnect

from cpd_eventstore.db import Pool
from cpd_platform.http import install_error_handlers
from cpd_platform.testing import eventually
from reporting import model
from reporting.analyst_views import FORBIDDEN_COLUMNS, install_analyst_views
from reporting.analysts import DATASETS
from reporting.analysts_api import router

pytestmark = pytest.mark.integration

META_DDL = """
create schema if not exists reporting_meta;
create table if not exists reporting_meta.generations (
    generation int primary key, schema_name text not null unique, model_version int not null,
    status text not null, as_of date, created_at timestamptz not null default now(),
    live_since timestamptz, retired_at timestamptz
);
"""

DATA = """
insert into trusts (trust_id, name, region, funding_model, cpd_lead_trn) values
    ('T1', 'Oak Trust', 'London', 'centralised', '9000001'),
    ('T2', 'Elm Trust', 'North West', 'delegated', null);
insert into schools (urn, name, local_authority, phase, region, pp50, trust_id) values
    ('100001', 'Oak Primary', 'Camden', 'primary', 'London', true, 'T1'),
    ('100002', 'Oak High', 'Hackney', 'secondary', 'London', false, 'T1'),
    ('100003', 'Elm Primary', 'Manchester', 'primary', 'North West', true, 'T2'),
    ('100004', 'Ash High', 'Manchester', 'secondary', 'North West', false, null);
insert into school_trusts (urn, joined_on, trust_id, left_on) values
    ('100001', '2020-09-01', 'T2', '2024-01-01'),
    ('100001', '2024-01-01', 'T1', null),
    ('100002', '2020-09-01', 'T1', null),
    ('100003', '2020-09-01', 'T2', null);
insert into teachers (trn, school_urn, given_name, family_name, career_stage, fte,
                      registered_on, school_since)
select lpad(i::text, 7, '0'), '10000' || (i % 4 + 1), 'Given' || i, 'Family' || i,
       (array['ect', 'experienced', 'leader'])[i % 3 + 1], 1.0, date '2020-09-01' + i,
       date '2020-09-01'
  from generate_series(1, 60) i;
insert into teacher_years (trn, academic_year, hours_entitled, hours_logged, minimum_met_on)
select lpad(i::text, 7, '0'), y, 35, (i % 7) * 2.5,
       case when i % 5 = 0 then null else date '2024-01-01' + (i % 9) end
  from generate_series(1, 60) i, unnest(array['2023/24', '2024/25']) y;
insert into providers (provider_id, name, kind) values ('P1', 'Best CPD', 'university');
insert into courses (course_id, provider_id, title, kind, hours, price_pence, badge_level,
                     completions, cost_completed_pence, hours_completed, ratings, rating_total)
values ('C1', 'P1', 'Leading literacy', 'npq', 40, 100000, 'gold', 3, 300000, 120, 3, 13),
       ('C2', 'P1', 'Phonics', 'short', 6, 12000, 'silver', 0, 0, 0, 0, 0),
       ('C3', 'P1', 'Behaviour', 'short', 3, 5000, null, 1, 5000, 3, 1, 4);
insert into requests (trn, request_id, course_id, school_urn, academic_year, status, cost_pence,
                      expected_hours, requested_at)
select lpad(i::text, 7, '0'), 'r' || i, 'C' || (i % 3 + 1), '10000' || (i % 4 + 1),
       case when i % 2 = 0 then '2024/25' else '2023/24' end, 'requested', 1000 * i, 6,
       timestamptz '2024-01-01 09:00+00' + i * interval '1 hour'
  from generate_series(1, 60) i;
insert into school_days (urn, day, academic_year, hours_logged) values
    ('100001', '2023-12-15', '2023/24', 5),
    ('100001', '2024-02-01', '2023/24', 7),
    ('100003', '2024-02-01', '2023/24', 11);
insert into budgets (budget_id, holder, trust_id, school_urn, academic_year, allocated_pence)
values ('B1', 'trust', 'T1', null, '2024/25', 500000),
       ('B2', 'school', 'T1', '100001', '2024/25', 100000),
       ('B3', 'school', null, '100004', '2024/25', 50000);
insert into school_summaries (urn, academic_year, teachers, fte, teachers_granted,
    hours_entitled, hours_logged, minimum_met, progress_histogram, ects, ects_without_mentor,
    mentors, mentor_capacity, mentees_assigned)
values ('100001', '2024/25', 15, 15, 15, 525, 100, 3, array_fill(0, array[21]), 5, 1, 2, 6, 4);
insert into development_plans (trn, school_urn, academic_year, goals, agreed_with, agreed_at)
values ('0000001', '100002', '2024/25', array['Reading', 'Maths, "mostly"'], 'Mrs Head',
        '2024-09-10 10:00+00');
"""


class Runtime:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def require_pool(self) -> Pool:
        return self.pool


async def make_generation(
    pool: Pool, generation: int, status: str = "live", as_of: date | None = None
) -> str:
    schema = f"reporting_g{generation}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(META_DDL)
        await conn.execute(f"create schema {schema}; set local search_path to {schema}")
        await conn.execute(model.DDL)
        await conn.execute(
            "insert into reporting_meta.generations (generation, schema_name, model_version,"
            " status, as_of) values ($1, $2, $3, $4, $5)",
            generation,
            schema,
            model.MODEL_VERSION,
            status,
            as_of,
        )
    return schema


async def run_in(pool: Pool, schema: str, sql: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"set local search_path to {schema}")
        await conn.execute(sql)


def make_app(pool: Pool) -> FastAPI:
    app = FastAPI()
    app.state.runtime = Runtime(pool)
    install_error_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def live(pool: Pool) -> str:
    schema = await make_generation(pool, 1)
    await run_in(pool, schema, DATA)
    async with pool.acquire() as conn, conn.transaction():
        await install_analyst_views(conn, schema)  # makes the pseudonym key
    return schema


@pytest.fixture
async def client(pool: Pool, live: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def pseudonyms(pool: Pool, trns: list[str]) -> set[str]:
    rows = await pool.fetch("select analytics.pseudonym(t) from unnest($1::text[]) t", trns)
    return {r[0] for r in rows}


async def fetch_all(
    client: httpx.AsyncClient, name: str, params: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page_params = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/analysts/datasets/{name}", params=page_params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["rows"]) <= limit
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
        assert len(body["rows"]) == limit
    raise AssertionError("paging did not end")


async def test_the_list_tells_columns_and_filters(client: httpx.AsyncClient) -> None:
    response = await client.get("/analysts/datasets")
    assert response.status_code == 200
    listed = {d["name"]: d for d in response.json()["datasets"]}
    assert {
        "teachers",
        "teacher_years",
        "requests",
        "hours",
        "schools",
        "trusts",
        "courses",
        "school_years",
        "budgets",
        "mentoring",
    } <= set(listed)
    assert listed["hours"]["view"] == "analytics.hours_log"
    assert "trn" not in listed["teachers"]["columns"]
    assert "teacher_id" in listed["teachers"]["columns"]
    assert listed["teacher_years"]["key"] == ["teacher_id", "academic_year"]
    assert set(listed["requests"]["filters"]) == {
        "academic_year",
        "region",
        "local_authority",
        "phase",
        "trust_id",
        "pp50",
        "course_kind",
        "badge",
    }
    assert listed["trusts"]["filters"] == ["region", "trust_id"]
    for info in listed.values():
        assert not set(info["columns"]) & FORBIDDEN_COLUMNS
    assert set(response.json()["filters"]) == {
        "academic_year",
        "region",
        "local_authority",
        "phase",
        "trust_id",
        "pp50",
        "course_kind",
        "badge",
    }


async def test_teachers_appear_by_pseudonym_only(pool: Pool, client: httpx.AsyncClient) -> None:
    rows = await fetch_all(client, "teachers", {}, limit=1000)
    assert len(rows) == 60
    assert {r["teacher_id"] for r in rows} == await pseudonyms(
        pool, [f"{i:07d}" for i in range(1, 61)]
    )
    text = str(rows)
    assert "Given" not in text
    assert "Family" not in text
    assert not re.search(r"'00000\d\d'", text)
    plans = (await client.get("/analysts/datasets/development_plans")).json()["rows"]
    assert plans[0]["goals"] == ["Reading", 'Maths, "mostly"']
    assert "Mrs Head" not in str(plans)


@pytest.mark.parametrize(
    ("name", "params", "where"),
    [
        # teacher years: school filters through the teacher's school today
        (
            "teacher_years",
            {"academic_year": "2024/25", "region": "London"},
            "ty.academic_year = '2024/25' and s.region = 'London'",
        ),
        ("teacher_years", {"pp50": "pp50"}, "s.pp50"),
        (
            "teacher_years",
            {"pp50": "other", "phase": "secondary"},
            "not s.pp50 and s.phase = 'secondary'",
        ),
        ("teacher_years", {"trust_id": "T2"}, "s.trust_id = 'T2'"),
        ("teacher_years", {"local_authority": ["Camden", "Hackney"]}, "s.region = 'London'"),
        ("teacher_years", {"pp50": ["pp50", "other"]}, "true"),
    ],
)
async def test_filters_by_school(
    pool: Pool, client: httpx.AsyncClient, name: str, params: dict[str, Any], where: str
) -> None:
    rows = await fetch_all(client, name, params, limit=1000)
    expected = await pool.fetch(
        "select analytics.pseudonym(ty.trn) as id, ty.academic_year"
        "  from reporting_g1.teacher_years ty join reporting_g1.teachers t using (trn)"
        "  join reporting_g1.schools s on s.urn = t.school_urn where " + where
    )
    assert expected
    assert sorted((r["teacher_id"], r["academic_year"]) for r in rows) == sorted(
        (r["id"], r["academic_year"]) for r in expected
    )


async def test_filters_by_course_and_by_trust(client: httpx.AsyncClient) -> None:
    async def ids(name: str, key: str, **params: Any) -> list[Any]:
        rows = await fetch_all(client, name, params, limit=1000)
        return sorted(r[key] for r in rows)

    # requests r1..r60: course C(i % 3 + 1): C2 (silver, short) for i % 3 == 1
    assert await ids("requests", "request_id", badge="silver") == sorted(
        f"r{i}" for i in range(1, 61) if i % 3 == 1
    )
    assert await ids("requests", "request_id", course_kind="short", badge="silver") == sorted(
        f"r{i}" for i in range(1, 61) if i % 3 == 1
    )
    assert len(await ids("requests", "request_id", course_kind="short")) == 40
    assert await ids("requests", "request_id", course_kind="npq", academic_year="2024/25") == (
        sorted(f"r{i}" for i in range(1, 61) if i % 3 == 0 and i % 2 == 0)
    )
    assert await ids("courses", "course_id", badge="gold") == ["C1"]
    assert await ids("courses", "course_id", course_kind="short") == ["C2", "C3"]
    assert await ids("schools", "urn", trust_id="T1") == ["100001", "100002"]
    assert await ids("schools", "urn", pp50="pp50", region="North West") == ["100003"]
    assert await ids("trusts", "trust_id", region="London") == ["T1"]
    assert await ids("budgets", "budget_id", trust_id="T1") == ["B1", "B2"]
    assert await ids("budgets", "budget_id", phase="secondary") == ["B3"]
    # by day: a school counts for the trust it was in on the day
    assert await ids("school_days", "day", trust_id="T2") == ["2023-12-15", "2024-02-01"]
    days = await fetch_all(client, "school_days", {"trust_id": "T1"}, limit=10)
    assert [(d["urn"], d["day"]) for d in days] == [("100001", "2024-02-01")]


async def test_courses_show_rating_and_cost_per_hour(client: httpx.AsyncClient) -> None:
    rows = (await client.get("/analysts/datasets/courses", params={"sort": "course_id"})).json()
    c1, c2, c3 = rows["rows"]
    assert (c1["average_rating"], c1["cost_per_hour_pence"], c1["provider_name"]) == (
        4.33,
        2500.0,
        "Best CPD",
    )
    assert (c2["average_rating"], c2["cost_per_hour_pence"]) == (None, None)
    assert (c3["average_rating"], c3["cost_per_hour_pence"]) == (4.0, 1666.67)


@pytest.mark.parametrize(
    "sort",
    [
        None,
        "-hours_logged",
        "hours_logged,-academic_year",
        "-minimum_met_on",  # nulls first when descending
        "minimum_met_on,-hours_logged",  # nulls last when ascending
        "career_stage,-current_school_urn,minimum_met_on",
        "-teacher_id",
    ],
)
async def test_keyset_pages_give_every_row_once_in_order(
    client: httpx.AsyncClient, sort: str | None
) -> None:
    params = {"sort": sort} if sort else {}
    whole = await fetch_all(client, "teacher_years", params, limit=1000)
    assert len(whole) == 120
    for limit in (1, 7, 50):
        paged = await fetch_all(client, "teacher_years", params, limit=limit)
        assert paged == whole
    keys = [(r["teacher_id"], r["academic_year"]) for r in whole]
    assert len(set(keys)) == 120

    def order_key(column: str, descending: bool) -> Callable[[dict[str, Any]], Any]:
        def key(row: dict[str, Any]) -> Any:
            value = row[column]
            # nulls sort last ascending and first descending: as if greater than any value
            return (value is None, value if value is not None else 0)

        return key

    expected = list(whole)
    given = [p for p in (sort or "").split(",") if p]
    spec = [(p.lstrip("-"), p.startswith("-")) for p in given]
    spec += [(c, False) for c in ("teacher_id", "academic_year") if c not in dict(spec)]
    for column, descending in reversed(spec):
        expected.sort(key=order_key(column, descending), reverse=descending)
    assert whole == expected


async def test_paging_after_the_read_model_moved_on(pool: Pool, client: httpx.AsyncClient) -> None:
    first = (
        await client.get("/analysts/datasets/schools", params={"limit": 2, "sort": "-urn"})
    ).json()
    assert [r["urn"] for r in first["rows"]] == ["100004", "100003"]
    await pool.execute("delete from reporting_g1.schools where urn = '100003'")  # the last seen
    second = (
        await client.get(
            "/analysts/datasets/schools",
            params={"limit": 2, "sort": "-urn", "cursor": first["next_cursor"]},
        )
    ).json()
    assert [r["urn"] for r in second["rows"]] == ["100002", "100001"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("teachers", {"academic_year": "2024/25"}, "academic_year"),
        ("courses", {"region": "London"}, "region"),
        ("trusts", {"phase": "primary"}, "phase"),
        ("hours", {"course_kind": "npq"}, "course_kind"),
        ("teacher_years", {"pp50": "rich"}, "pp50"),
        ("teacher_years", {"academic_year": "2024"}, "academic_year"),
        ("teachers", {"sort": "given_name"}, "sort"),
        ("teachers", {"sort": "trn"}, "sort"),
        ("teachers", {"sort": "fte;drop table teachers"}, "sort"),
        ("school_summaries", {"sort": "progress_histogram"}, "sort"),
        ("teachers", {"sort": "fte,fte"}, "sort"),
        ("teachers", {"cursor": "garbage"}, "cursor"),
        ("teachers", {"cursor": "eyJxIjoiYSIsImsiOlt7InMiOjF9XX0"}, "cursor"),
    ],
)
async def test_a_bad_query_is_a_400_naming_the_field(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], field: str
) -> None:
    for url in (f"/analysts/datasets/{path}", f"/analysts/datasets/{path}/export"):
        response = await client.get(url, params=params)
        if "cursor" in params and url.endswith("export"):
            continue  # exports take no cursor
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert [e["field"] for e in body["errors"]] == [field]
        assert field in body["detail"]


async def test_a_cursor_is_only_good_for_its_own_query(client: httpx.AsyncClient) -> None:
    page = (
        await client.get("/analysts/datasets/teachers", params={"limit": 5, "sort": "fte"})
    ).json()
    for params in ({"sort": "-fte"}, {"region": "London", "sort": "fte"}):
        response = await client.get(
            "/analysts/datasets/teachers", params={**params, "cursor": page["next_cursor"]}
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "cursor"
    other = await client.get(
        "/analysts/datasets/schools", params={"sort": "fte", "cursor": page["next_cursor"]}
    )
    assert other.status_code == 400


async def test_unknown_dataset_limits_and_unavailable_read_models(
    pool: Pool, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/analysts/datasets/secrets")).status_code == 404
    assert (await client.get("/analysts/datasets/secrets/export")).status_code == 404
    response = await client.get("/analysts/datasets/teachers", params={"limit": 1001})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
    response = await client.get("/analysts/datasets/teachers/export", params={"format": "xlsx"})
    assert response.status_code == 422
    response = await client.get("/analysts/datasets/teachers", params={"as_of": "2024-08-31"})
    assert response.status_code == 404  # no such snapshot: as the dashboards answer
    assert "2024-08-31" in response.json()["detail"]
    await pool.execute("update reporting_meta.generations set status = 'building'")
    for url in ("/analysts/datasets/teachers", "/analysts/datasets/teachers/export"):
        response = await client.get(url)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    assert pool.get_idle_size() == pool.get_size()  # every connection went back


async def test_without_the_pseudonym_key_teachers_are_unavailable(pool: Pool) -> None:
    await make_generation(pool, 1)  # live, but no generation switch installed the views yet
    transport = httpx.ASGITransport(app=make_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for url in ("/analysts/datasets/teachers", "/analysts/datasets/teachers/export"):
            response = await http.get(url)
            assert response.status_code == 503
            assert "pseudonym key" in response.json()["detail"]


async def test_as_of_reads_the_snapshot(pool: Pool, client: httpx.AsyncClient) -> None:
    snapshot = await make_generation(pool, 2, status="snapshot", as_of=date(2024, 8, 31))
    await run_in(
        pool,
        snapshot,
        "insert into schools (urn, name, region) values ('200001', 'Then School', 'South')",
    )
    rows = (await client.get("/analysts/datasets/schools", params={"as_of": "2024-08-31"})).json()[
        "rows"
    ]
    assert [r["urn"] for r in rows] == ["200001"]
    response = await client.get("/analysts/datasets/schools/export", params={"as_of": "2024-08-31"})
    assert response.text.splitlines()[1].startswith("200001,Then School")
    assert 'filename="schools-2024-08-31.csv"' in response.headers["content-disposition"]


async def test_csv_export_matches_the_query(client: httpx.AsyncClient) -> None:
    params = {"academic_year": "2024/25", "region": "London", "sort": "-hours_logged"}
    response = await client.get("/analysts/datasets/teacher_years/export", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="teacher_years-\d{4}-\d{2}-\d{2}\.csv"',
        response.headers["content-disposition"],
    )
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert list(exported[0]) == list(DATASETS["teacher_years"].columns)
    queried = await fetch_all(client, "teacher_years", params, limit=1000)
    assert len(exported) == len(queried) == 30

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    assert [r["teacher_id"] for r in exported] == [r["teacher_id"] for r in queried]
    for got, want in zip(exported, queried, strict=True):
        assert float(got["hours_logged"]) == want["hours_logged"]
        assert got["minimum_met_on"] == text(want["minimum_met_on"])
        assert got["policy_version"] == ""
    plans = await client.get("/analysts/datasets/development_plans/export")
    row = next(csv.DictReader(io.StringIO(plans.text)))
    assert row["goals"] == '["Reading", "Maths, \\"mostly\\""]'
    assert row["agreed_at"] == "2024-09-10T10:00:00+00:00"


async def test_parquet_export_reads_back_typed(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/analysts/datasets/requests/export", params={"format": "parquet", "badge": "gold"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"].endswith('.parquet"')
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == list(DATASETS["requests"].columns)
    assert table.num_rows == 20
    schema = table.schema
    assert schema.field("cost_pence").type == pa.int64()
    assert schema.field("expected_hours").type == pa.float64()
    assert schema.field("requested_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("completed_on").type == pa.date32()
    rows = sorted(table.to_pylist(), key=lambda r: int(r["request_id"][1:]))
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(3, 61, 3)]
    assert rows[0]["cost_pence"] == 3000
    assert rows[0]["requested_at"] == datetime.fromisoformat("2024-01-01T12:00:00+00:00")
    summaries = await client.get(
        "/analysts/datasets/school_summaries/export", params={"format": "parquet"}
    )
    table = pq.read_table(io.BytesIO(summaries.content))
    assert table.schema.field("progress_histogram").type == pa.list_(pa.int32())
    assert table.column("progress_histogram").to_pylist() == [[0] * 21]
    empty = await client.get(
        "/analysts/datasets/requests/export", params={"format": "parquet", "region": "Mars"}
    )
    assert pq.read_table(io.BytesIO(empty.content)).num_rows == 0


# -- a large export, streamed: bytes go out as rows come in, memory stays flat


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def stream_asgi(
    app: FastAPI, path: str, out: Path, spec_version: str = "2.3", leave_after: int = 0
) -> dict[str, Any]:
    """Call the app as a server would and write the body to ``out``: no client buffering.

    ``leave_after``: the client goes away after that many body chunks (0: it stays).
    """
    done = anyio.Event()
    stats: dict[str, Any] = {"bytes": 0, "chunks": 0, "rss_peak": 0, "arrow_peak": 0}
    base, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": base,
        "raw_path": base.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }

    async def receive() -> MutableMapping[str, Any]:
        await done.wait()
        return {"type": "http.disconnect"}

    with out.open("wb") as sink:

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                stats["status"] = message["status"]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                sink.write(body)
                stats["bytes"] += len(body)
                stats["chunks"] += 1
                stats["rss_peak"] = max(stats["rss_peak"], _rss())
                stats["arrow_peak"] = pa.default_memory_pool().max_memory()
                if not message.get("more_body", False):
                    done.set()
                if stats["chunks"] == leave_after:
                    done.set()  # a 2.3 server tells the app through receive()
                    if spec_version >= "2.4":
                        raise OSError("the client went away")  # a 2.4 one by failing send()

        with contextlib.suppress(OSError, ClientDisconnect):
            await app(scope, receive, send)
    return stats


@pytest.mark.slow
async def test_a_large_export_streams_in_bounded_memory(pool: Pool, tmp_path: Path) -> None:
    rows, small = 200_000, 25_000
    schema = await make_generation(pool, 1)
    await run_in(
        pool,
        schema,
        f"""
        insert into hours_log (trn, log_id, school_urn, academic_year, hours, activity_type,
                               activity_date, request_id)
        select lpad((i % 50000)::text, 7, '0'), 'log-' || i, '10000' || (i % 4 + 1),
               case when i <= {small} then '2023/24' else '2024/25' end,
               (i % 8) * 0.25, 'course', date '2024-09-01' + (i % 300),
               case when i % 3 = 0 then 'r' || i end
          from generate_series(1, {rows}) i;
        analyze hours_log;
        """,
    )
    async with pool.acquire() as conn, conn.transaction():
        await install_analyst_views(conn, schema)
    app = make_app(pool)
    expected_hours = sum((i % 8) * 0.25 for i in range(1, rows + 1))
    report: list[str] = []
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"hours.{fmt}"
        path = f"/analysts/datasets/hours/export?{urlencode({'format': fmt})}"
        small_path = f"{path}&academic_year=2023/24"
        await stream_asgi(app, path, out)  # warm up (imports, plans, pool)
        rss_before = _rss()
        started = time.perf_counter()
        stats = await stream_asgi(app, path, out)
        elapsed = time.perf_counter() - started
        assert stats["status"] == 200
        peaks = {}
        for label, url in (("small", small_path), ("whole", path)):
            tracemalloc.start()
            await stream_asgi(app, url, tmp_path / f"traced-{label}.{fmt}")
            peaks[label] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        size = out.stat().st_size
        if fmt == "csv":
            with out.open(newline="") as f:
                got = [(r["log_id"], float(r["hours"])) for r in csv.DictReader(f)]
            assert len(got) == rows
            assert len({log for log, _ in got}) == rows
            assert sum(h for _, h in got) == pytest.approx(expected_hours)
            with (tmp_path / "traced-small.csv").open(newline="") as f:
                assert sum(1 for _ in csv.DictReader(f)) == small
        else:
            metadata = pq.ParquetFile(out).metadata
            assert metadata.num_rows == rows
            assert metadata.num_row_groups == 4
            table = pq.read_table(out, columns=["log_id", "hours"])
            assert len(set(table.column("log_id").to_pylist())) == rows
            assert sum(table.column("hours").to_pylist()) == pytest.approx(expected_hours)
            assert pq.ParquetFile(tmp_path / "traced-small.parquet").metadata.num_rows == small
        assert stats["chunks"] > 4  # it streamed
        # memory does not grow with the rows: 8 times the rows, about the same peak
        assert peaks["whole"] < 1.5 * peaks["small"] + 2 * 2**20, peaks
        assert peaks["whole"] < 32 * 2**20, peaks
        report.append(
            f"{fmt}: {rows} rows, {size / 2**20:.1f} MiB in {elapsed:.2f} s"
            f" ({rows / elapsed:,.0f} rows/s, {size / 2**20 / elapsed:.1f} MiB/s),"
            f" {stats['chunks']} chunks; python peak {peaks['whole'] / 2**20:.1f} MiB"
            f" ({small} rows: {peaks['small'] / 2**20:.1f} MiB),"
            f" RSS growth {(stats['rss_peak'] - rss_before) / 2**20:.1f} MiB,"
            f" arrow pool peak {stats['arrow_peak'] / 2**20:.1f} MiB"
        )
    print("\n" + "\n".join(report))
    if target := os.environ.get("CPD_ANALYSTS_REPORT"):
        await anyio.Path(target).write_text("\n".join(report) + "\n")


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_a_client_leaving_mid_export_gives_the_connection_back(
    pool: Pool, tmp_path: Path, spec_version: str, fmt: str
) -> None:
    schema = await make_generation(pool, 1)
    await run_in(
        pool,
        schema,
        "insert into school_days (urn, day, academic_year)"
        " select '10000' || (i % 4), date '2000-01-01' + i / 4, '2024/25'"
        "   from generate_series(1, 120000) i",
    )
    async with pool.acquire() as conn, conn.transaction():
        await install_analyst_views(conn, schema)
    app = make_app(pool)
    path = f"/analysts/datasets/school_days/export?format={fmt}"
    stats = await stream_asgi(app, path, tmp_path / "part", spec_version, leave_after=2)
    assert stats["status"] == 200
    assert stats["chunks"] == 2

    async def idle() -> bool:
        return pool.get_idle_size() == pool.get_size()

    await eventually(idle, within=10)  # released as the cancelled stream unwinds
    assert await pool.fetchval("select count(*) from reporting_g1.school_days") == 120000
