"""The dashboard routes over HTTP: figures, defaults, 404 problems for unknown schools, trusts,
courses, areas and snapshots, 503 with Retry-After while no generation is live, 422 for bad
identifiers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from cpd_eventstore.db import Pool
from cpd_platform.http import install_error_handlers
from reporting import dashboards_api
from reporting.model import DDL
from reporting.summaries import refresh_school_summaries

pytestmark = pytest.mark.integration

TODAY = date(2025, 12, 10)

META = """
create schema reporting_meta;
create table reporting_meta.generations (
    generation int primary key, schema_name text not null unique, model_version int not null,
    status text not null, as_of date, created_at timestamptz not null default now(),
    live_since timestamptz, retired_at timestamptz);
"""

FIXTURE = """
insert into trusts (trust_id, name, region, funding_model) values
    ('3001', 'Oak Trust', 'london', 'centralised');
insert into schools (urn, name, local_authority, phase, region, pp50, trust_id, cpd_lead_trn)
values ('100001', 'Alder Primary', 'Camden', 'primary', 'london', true, '3001', '1000001'),
       ('100002', 'Birch Primary', 'Camden', 'primary', 'london', false, null, null);
insert into school_trusts (urn, joined_on, trust_id) values ('100001', '2015-09-01', '3001');
insert into teachers (trn, school_urn, given_name, family_name, career_stage, fte,
                      registered_on, school_since) values
    ('1000001', '100001', 'Ann', 'A', 'experienced', 1.0, '2020-09-01', '2020-09-01'),
    ('1000002', '100001', 'Bob', 'B', 'ect_year_1', 1.0, '2025-09-01', '2025-09-01'),
    ('1000003', '100002', 'Cat', 'C', 'experienced', 1.0, '2020-09-01', '2020-09-01');
insert into teacher_years (trn, academic_year, policy_version, hours_entitled, hours_logged)
values ('1000001', '2025/26', 1, 35, 10), ('1000002', '2025/26', 1, 35, 5),
       ('1000003', '2025/26', 1, 35, 0);
insert into courses (course_id, title, kind, badge_level, badge_expires_on, enrolments,
                     completions, cost_completed_pence, hours_completed, ratings, rating_total)
values ('C1', 'Leading Teaching', 'npq', 'gold', '2026-08-31', 2, 1, 30000, 12.5, 1, 5);
insert into requests (trn, request_id, course_id, school_urn, academic_year, status,
                      cost_pence, expected_hours, requested_at)
values ('1000001', 'r1', 'C1', '100001', '2025/26', 'approved', 30000, 12.5,
        '2025-10-01 09:00Z');
insert into school_days (urn, day, academic_year, hours_logged, requests, approvals)
values ('100001', '2025-10-01', '2025/26', 15, 1, 1);
insert into school_years (urn, academic_year, hours_logged, requests, approvals)
values ('100001', '2025/26', 15, 1, 1);
"""


@dataclass
class Runtime:
    pool: Pool

    def require_pool(self) -> Pool:
        return self.pool


@pytest.fixture
async def client(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with pool.acquire() as conn:
        await conn.execute(META)
        await conn.execute("create schema reporting_g1; set search_path to reporting_g1")
        await conn.execute(DDL)
        await conn.execute(FIXTURE)
        await refresh_school_summaries(conn, None, TODAY)
        await conn.execute("reset search_path")
        await conn.execute(
            "insert into reporting_meta.generations values (1, 'reporting_g1', 1, 'live')"
        )
    monkeypatch.setattr(dashboards_api, "today", lambda: TODAY)
    app = FastAPI()
    app.state.runtime = Runtime(pool)
    install_error_handlers(app)
    app.include_router(dashboards_api.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_school_dashboard_defaults_to_the_current_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/schools/100001/dashboard")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["academic_year"] == "2025/26"
    assert (body["teachers"], body["trust_name"], body["cpd_lead_present"]) == (
        2,
        "Oak Trust",
        True,
    )
    progress = body["progress"]
    assert progress["on"] == "2025-12-10"
    assert (progress["required_percent"], progress["teachers_granted"]) == (25, 2)
    assert (progress["on_track"], progress["on_track_percent"]) == (1, "50.00")
    assert progress["hours_logged"] == "15.00"
    assert body["mentoring"]["ects_without_mentor"] == 1
    assert body["top_courses"][0]["course_id"] == "C1"

    response = await client.get("/schools/100001/dashboard", params={"academic_year": "2024/25"})
    assert response.status_code == 200
    assert response.json()["progress"] is None


async def test_trust_area_and_course_routes(client: httpx.AsyncClient) -> None:
    trust = await client.get("/trusts/3001/dashboard", params={"academic_year": "2025/26"})
    assert trust.status_code == 200, trust.text
    assert (trust.json()["schools"], trust.json()["activity"]["hours_logged"]) == (1, "15.00")

    nation = await client.get("/areas/nation")
    assert nation.status_code == 200, nation.text
    assert nation.json()["total"]["rollout"]["teachers_granted"] == 3
    assert [g["pp50"] for g in nation.json()["by_disadvantage"]] == [False, True]

    region = await client.get("/areas/regions/london")
    assert region.status_code == 200
    assert region.json()["name"] == "london"
    la = await client.get("/areas/local-authorities/Camden")
    assert la.status_code == 200
    assert la.json()["total"]["rollout"]["schools"] == 2

    report = await client.get("/courses/C1/report")
    assert report.status_code == 200, report.text
    assert (report.json()["cost_per_hour_pence"], report.json()["average_rating"]) == (2400, "5.00")
    assert report.json()["year"]["approvals"] == 1
    uptake = await client.get("/courses/uptake")
    assert uptake.status_code == 200
    assert uptake.json()["by_kind_and_badge"][0] == {
        "kind": "npq",
        "badge_level": "gold",
        "courses": 1,
        "requests": 1,
        "approvals": 1,
        "completions": 0,
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/schools/999999/dashboard", 404),
        ("/trusts/9999/dashboard", 404),
        ("/courses/C9/report", 404),
        ("/areas/local-authorities/Nowhere", 404),
        ("/areas/regions/mars", 422),
        ("/schools/12/dashboard", 422),
        ("/schools/100001/dashboard?academic_year=2025-26", 422),
    ],
)
async def test_problems(client: httpx.AsyncClient, path: str, status: int) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_missing_snapshot_is_404_and_no_live_generation_is_503(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    response = await client.get("/schools/100001/dashboard", params={"as_of": "2025-11-30"})
    assert response.status_code == 404
    assert "snapshot" in response.json()["detail"]

    await pool.execute("update reporting_meta.generations set status = 'building'")
    response = await client.get("/areas/nation")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"


async def test_as_of_snapshot_is_read_and_dates_the_figures(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    # a snapshot taken on 1 September 2025: a second generation, as an operator would build it
    async with pool.acquire() as conn:
        await conn.execute("create schema reporting_s1; set search_path to reporting_s1")
        await conn.execute(DDL)
        await conn.execute(
            """insert into schools (urn, name, pp50) values ('100001', 'Alder (then)', false);
               insert into reporting_meta.generations (generation, schema_name, model_version,
                                                       status, as_of)
               values (2, 'reporting_s1', 1, 'snapshot', '2025-09-01')"""
        )
        await conn.execute("reset search_path")
    response = await client.get("/schools/100001/dashboard", params={"as_of": "2025-09-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["academic_year"], body["teachers"]) == ("Alder (then)", "2025/26", 0)
    assert body["progress"] is None
