"""Budgets, the grant run and a funded approval over HTTP: the real routers on a real runtime
(PostgreSQL, the broker, the outbox relay)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cpd_platform.runtime import ServiceRuntime
from cpd_platform.testing import Infrastructure
from entitlement.api import router
from entitlement.budget_api import router as budget_router

from .entitlement_http import serve

pytestmark = pytest.mark.integration

YEAR = "2025/26"


@pytest.fixture
async def http(infra: Infrastructure) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    # no consumers: the catalogue replica is written directly
    async with serve(infra, [router, budget_router]) as served:
        yield served


async def call(
    client: httpx.AsyncClient, path: str, body: dict[str, Any] | None, expect: int
) -> Any:
    if body is None:
        response = await client.get(path)
    else:
        response = await client.post(path, json=body)
    assert response.status_code == expect, response.text
    if expect >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


SCHOOL = {
    "urn": "100000",
    "name": "Hackney Primary",
    "local_authority": "Hackney",
    "phase": "Primary",
}


def teacher(trn: str, registered_on: str = "2025-09-01") -> dict[str, Any]:
    return {
        "trn": trn,
        "school_urn": "100000",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "career_stage": "experienced",
        "fte": "100",
        "registered_on": registered_on,
    }


async def test_budgets_grants_and_a_funded_approval_over_http(
    http: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = http
    budget = {"academic_year": YEAR, "holder": "school", "school_urn": "100000"}

    # a budget's holder must be registered, named exactly, and the amount positive
    problem = await call(client, "/budgets", {**budget, "amount_pence": 50_000}, 404)
    assert fields_of(problem) == {"school_urn"}
    await call(client, "/schools", SCHOOL, 201)
    problem = await call(client, "/budgets", {**budget, "amount_pence": 0}, 422)
    assert fields_of(problem) == {"amount_pence"}
    problem = await call(client, "/budgets", {**budget, "amount_pence": 1, "extra": 1}, 422)
    assert fields_of(problem) == {"extra"}
    problem = await call(client, "/budgets", {**budget, "trust_id": "2044", "amount_pence": 1}, 422)
    assert "school budget names its school_urn and no trust_id" in problem["detail"]
    problem = await call(
        client,
        "/budgets",
        {"academic_year": YEAR, "holder": "trust", "trust_id": "2044", "amount_pence": 1},
        404,
    )
    assert fields_of(problem) == {"trust_id"}

    allocated = await call(client, "/budgets", {**budget, "amount_pence": 50_000}, 201)
    assert allocated["budget_id"] == "2025-26-school-100000"
    assert allocated["stream_id"] == "budget-2025-26-school-100000"
    assert allocated["events"] == ["BudgetAllocated"]
    await call(client, "/budgets", {**budget, "amount_pence": 25_000}, 201)  # a top-up
    premium = await call(
        client,
        "/budgets",
        {"academic_year": YEAR, "holder": "national_premium", "amount_pence": 10**9},
        201,
    )
    assert premium["budget_id"] == "2025-26-national_premium-england"
    await call(client, "/budgets/2025-26-school-999999", None, 404)

    # a policy, two teachers granted by the grant run; a third registered mid-year
    await call(client, "/teachers", teacher("1000001"), 201)
    await call(client, "/teachers", teacher("1000002"), 201)
    policy = {
        "academic_year": YEAR,
        "minimum_hours": "35",
        "base_funding_per_fte_pence": 60_000,
        "pp50_uplift_percent": "20",
        "early_career_uplift_percent": "10",
        "effective_from": "2025-09-01",
    }
    await call(client, "/policies", policy, 201)
    run = await call(client, "/policies/grants", {"academic_year": YEAR}, 200)
    assert (run["teachers"], run["granted"], run["already_granted"]) == (2, 2, 0)
    run = await call(client, "/policies/grants", {"academic_year": YEAR}, 200)
    assert (run["granted"], run["already_granted"]) == (0, 2)
    await call(client, "/policies/grants", {"academic_year": "2030/31"}, 404)
    mid_year = await call(client, "/teachers", teacher("1000003", "2026-03-01"), 201)
    assert mid_year["events"] == ["TeacherRegistered", "EntitlementGranted"]
    granted = (await call(client, "/teachers/1000003", None, 200))["grants"]
    assert granted[0]["funding_pence"] == 30_246  # 50.41% of £600.00

    # requests for a £450.00 course (the catalogue replica, written directly)
    await runtime.require_pool().execute(
        "insert into entitlement.courses (course_id, title, price_pence, hours)"
        " values ('npq-lt', 'NPQ Leading Teaching', 45000, 30)"
    )
    for trn in ("1000001", "1000002"):
        body = {"request_id": f"r-{trn}", "course_id": "npq-lt", "academic_year": YEAR}
        await call(client, f"/teachers/{trn}/requests", body, 201)

    approved = await call(
        client, "/teachers/1000001/requests/r-1000001/approve", {"approved_by": "Head"}, 201
    )
    assert approved["events"] == ["CPDApproved", "FundingCommitted"]
    problem = await call(
        client, "/teachers/1000002/requests/r-1000002/approve", {"approved_by": "Head"}, 409
    )
    assert problem["detail"] == (
        "budget 2025-26-school-100000 has £300.00 left, request r-1000002 needs £450.00"
    )
    state = await call(client, "/budgets/2025-26-school-100000", None, 200)
    assert (
        state["allocated_pence"],
        state["committed_pence"],
        state["spent_pence"],
        state["available_pence"],
        state["available"],
    ) == (75_000, 45_000, 0, 30_000, "£300.00")
    assert state["commitments"] == [
        {
            "request_id": "r-1000001",
            "trn": "1000001",
            "school_urn": "100000",
            "amount_pence": 45_000,
        }
    ]
    assert (state["holder"], state["school_urn"], state["stream_version"]) == (
        "school",
        "100000",
        3,
    )
