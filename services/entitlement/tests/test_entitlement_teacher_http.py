"""A teacher's life over HTTP: plan, requests citing it (cohorts from the catalogue replica),
decline, withdraw, approve and complete (funding spent), hours with evidence and the plausibility
rules, corrections, the minimum met, a move that keeps everything, and leaving. The real routers
on a real runtime (PostgreSQL, the broker, the outbox relay)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import CohortPlaceBooked, CohortScheduled, CourseListed
from cpd_events.types import CourseKind, NpqType, academic_year_of, hours
from cpd_eventstore import IdempotentConsumer
from cpd_platform.runtime import ServiceRuntime
from cpd_platform.testing import Infrastructure, record_of
from entitlement.api import router
from entitlement.budget_api import router as budget_router
from entitlement.consumers import replicate_catalogue
from entitlement.teacher_api import router as teacher_router
from entitlement.teacher_app import today

from .entitlement_http import serve

pytestmark = pytest.mark.integration

YEAR = "2025/26"
TRN, SCHOOL, NEW_SCHOOL = "1234567", "100000", "100001"


@pytest.fixture
async def http(infra: Infrastructure) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async with serve(infra, [router, budget_router, teacher_router]) as served:
        yield served


async def call(
    client: httpx.AsyncClient, path: str, body: dict[str, Any] | None, expect: int
) -> Any:
    response = await (client.get(path) if body is None else client.post(path, json=body))
    assert response.status_code == expect, response.text
    if expect >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def catalogue(runtime: ServiceRuntime, *events: Event) -> None:
    """Catalogue events reach the replica as the service's consumer would apply them."""
    now = datetime.now(UTC)
    versions: dict[str, int] = {}
    records = []
    for offset, event in enumerate(events):
        if isinstance(event, CohortScheduled | CohortPlaceBooked):
            stream = f"cohort-{event.cohort_id}"
        else:
            stream = f"course-{event.course_id}"  # type: ignore[attr-defined]
        versions[stream] = versions.get(stream, 0) + 1
        envelope = Envelope(
            event_id=uuid.uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream,
            stream_version=versions[stream],
            occurred_at=now,
            recorded_at=now,
            correlation_id="c",
            actor="catalogue",
            data=event.model_dump(mode="json"),
        )
        records.append(record_of(envelope, offset))
    consumer = IdempotentConsumer(runtime.require_pool(), "test.replica", replicate_catalogue)
    outcome = await consumer.handle_batch(records)
    assert outcome.failed == outcome.parked == 0


def course() -> CourseListed:
    return CourseListed(
        course_id="npq-h",
        provider_id="ambition",
        title="NPQ for Headship",
        kind=CourseKind.NPQ,
        npq_type=NpqType.NPQH,
        hours=hours(60),
        price_pence=125_000,
    )


def cohort(cohort_id: str, capacity: int) -> CohortScheduled:
    return CohortScheduled(
        cohort_id=cohort_id,
        course_id="npq-h",
        starts_on=date(2026, 1, 10),
        ends_on=date(2026, 12, 10),
        capacity=capacity,
    )


def school(urn: str) -> dict[str, Any]:
    return {"urn": urn, "name": f"School {urn}", "local_authority": "Leeds", "phase": "Primary"}


def hours_body(log_id: str, amount: str, day: str, **more: Any) -> dict[str, Any]:
    return {
        "log_id": log_id,
        "academic_year": YEAR,
        "hours": amount,
        "activity_type": "coaching",
        "activity_date": day,
        **more,
    }


async def test_a_teachers_life_over_http(http: tuple[httpx.AsyncClient, ServiceRuntime]) -> None:
    client, runtime = http
    teacher_path = f"/teachers/{TRN}"
    await call(client, "/schools", school(SCHOOL), 201)
    await call(client, "/schools", school(NEW_SCHOOL), 201)
    await call(
        client,
        "/teachers",
        {
            "trn": TRN,
            "school_urn": SCHOOL,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "career_stage": "experienced",
            "fte": "100",
            "registered_on": "2025-09-01",
        },
        201,
    )
    await call(
        client,
        "/policies",
        {
            "academic_year": YEAR,
            "minimum_hours": "35",
            "base_funding_per_fte_pence": 600_000,
            "pp50_uplift_percent": "0",
            "early_career_uplift_percent": "0",
            "effective_from": "2025-09-01",
        },
        201,
    )
    state = await call(client, teacher_path, None, 200)
    if not state["grants"]:  # granting may follow the registration once a policy is out
        await call(client, f"{teacher_path}/entitlements", {"academic_year": YEAR}, 201)
    budget = {"academic_year": YEAR, "holder": "school", "school_urn": SCHOOL}
    await call(client, "/budgets", {**budget, "amount_pence": 1_000_000}, 201)
    await catalogue(
        runtime,
        course(),
        cohort("c-full", 1),
        CohortPlaceBooked(
            cohort_id="c-full", course_id="npq-h", booking_id="b1", trn="7000001", school_urn=SCHOOL
        ),
        cohort("c-open", 20),
    )

    # the development plan
    problem = await call(
        client,
        f"{teacher_path}/plan",
        {"academic_year": YEAR, "goals": [], "agreed_with": "L"},
        422,
    )
    assert fields_of(problem) == {"goals"}
    plan = {
        "academic_year": YEAR,
        "until_academic_year": "2027/28",
        "goals": ["Headship", "Behaviour"],
        "agreed_with": "Ms Lead",
    }
    await call(client, f"{teacher_path}/plan", plan, 201)
    got = await call(client, f"{teacher_path}/plan", None, 200)
    assert (got["goals"], got["plans_agreed"]) == (["Headship", "Behaviour"], 1)

    # requests: a goal of the plan, a cohort with a place
    requests = f"{teacher_path}/requests"
    ask = {"course_id": "npq-h", "academic_year": YEAR, "reason": "Towards headship"}
    problem = await call(client, requests, {**ask, "plan_goal": "Nope"}, 422)
    assert fields_of(problem) == {"plan_goal"}
    problem = await call(client, requests, {**ask, "cohort_id": "c-full"}, 409)
    assert fields_of(problem) == {"cohort_id"}
    assert "is full" in problem["detail"]
    problem = await call(client, requests, {**ask, "cohort_id": "c-none"}, 404)
    assert fields_of(problem) == {"cohort_id"}
    for request_id in ("r1", "r2", "r3"):
        body = {**ask, "request_id": request_id, "plan_goal": "Headship", "cohort_id": "c-open"}
        await call(client, requests, body, 201)

    # decline (a reason), withdraw, approve then complete
    problem = await call(client, f"{requests}/r1/decline", {"declined_by": "L", "reason": ""}, 422)
    assert fields_of(problem) == {"reason"}
    not_lead = {"declined_by": "Mr X", "reason": "Budget", "decliner_trn": "7000009"}
    problem = await call(client, f"{requests}/r1/decline", not_lead, 409)
    assert fields_of(problem) == {"decliner_trn"}  # the school has no such CPD lead
    assert f"decided by the CPD lead of school {SCHOOL}" in problem["detail"]
    declined = await call(
        client, f"{requests}/r1/decline", {"declined_by": "Ms Lead", "reason": "Budget"}, 201
    )
    assert declined["events"] == ["CPDDeclined"]
    await call(client, f"{requests}/r1/decline", {"declined_by": "L", "reason": "again"}, 409)
    await call(client, f"{requests}/r2/withdraw", {"reason": "Changed my mind"}, 201)
    await call(client, f"{requests}/r3/complete", {"completed_on": "2025-11-01"}, 409)
    await call(client, f"{requests}/r3/approve", {"approved_by": "Ms Lead"}, 201)
    future = {"completed_on": (today() + timedelta(days=1)).isoformat()}
    problem = await call(client, f"{requests}/r3/complete", future, 422)
    assert fields_of(problem) == {"completed_on"}
    completed = await call(client, f"{requests}/r3/complete", {"completed_on": "2025-11-01"}, 201)
    assert completed["events"] == ["CPDCompleted", "FundingSpent"]
    statuses = {
        r["request_id"]: r["status"]
        for r in (await call(client, teacher_path, None, 200))["requests"]
    }
    assert statuses == {"r1": "declined", "r2": "withdrawn", "r3": "completed"}

    # hours: evidence and reflection; the plausibility rules, each naming its field
    hours_path = f"{teacher_path}/hours"
    logged = await call(
        client,
        hours_path,
        hours_body(
            "h1",
            "10",
            "2025-10-01",
            evidence_url="https://evidence.example.org/h1",
            reflection="Worked well",
            request_id="r3",
        ),
        201,
    )
    assert logged["events"] == ["HoursLogged"]
    problem = await call(client, hours_path, hours_body("h2", "2.5", "2025-10-01"), 422)
    assert fields_of(problem) == {"hours"}  # 12.5 hours on one day
    assert "at most 12 a day" in problem["detail"]
    problem = await call(client, hours_path, hours_body("h2", "1", "2025-08-31"), 422)
    assert fields_of(problem) == {"activity_date"}  # outside 2025/26
    tomorrow = today() + timedelta(days=1)
    problem = await call(
        client,
        hours_path,
        {
            **hours_body("h2", "1", tomorrow.isoformat()),
            "academic_year": academic_year_of(tomorrow),
        },
        422,
    )
    assert fields_of(problem) == {"activity_date"}
    problem = await call(client, hours_path, hours_body("h2", "-1", "2025-10-02"), 422)
    assert fields_of(problem) == {"hours"}
    problem = await call(
        client, hours_path, hours_body("h2", "1", "2025-10-02", evidence_url="ftp://x/y"), 422
    )
    assert fields_of(problem) == {"evidence_url"}

    # a correction is a new event; the log that reaches the minimum records it
    for n, day in enumerate(("2025-10-02", "2025-10-03"), start=2):
        await call(client, hours_path, hours_body(f"h{n}", "12", day), 201)
    await call(client, f"{hours_path}/h9/correct", {"corrected_hours": "1", "reason": "x"}, 404)
    corrected = await call(
        client, f"{hours_path}/h1/correct", {"corrected_hours": "11", "reason": "forgot 1 h"}, 201
    )
    assert corrected["events"] == ["HoursLogCorrected", "MinimumEntitlementMet"]  # 35 of 35
    [year] = await call(client, hours_path, None, 200)
    assert year == {
        "academic_year": YEAR,
        "hours_logged": "35.00",
        "minimum_hours": "35.00",
        "minimum_met": True,
    }

    # a move: the record follows; then leaving ends everything
    problem = await call(
        client, f"{teacher_path}/move", {"school_urn": "100999", "moved_on": "2026-01-05"}, 404
    )
    assert fields_of(problem) == {"school_urn"}
    await call(
        client, f"{teacher_path}/move", {"school_urn": NEW_SCHOOL, "moved_on": "2026-01-05"}, 201
    )
    moved = await call(client, teacher_path, None, 200)
    assert moved["school_urn"] == NEW_SCHOOL
    assert len(moved["requests"]) == 3
    assert moved["grants"]
    assert (await call(client, f"{teacher_path}/plan", None, 200))["goals"] == plan["goals"]
    await call(client, f"{teacher_path}/leave", {"left_on": "2026-07-31", "reason": "Retired"}, 201)
    problem = await call(client, hours_path, hours_body("h9", "1", "2025-10-04"), 409)
    assert "has left the profession" in problem["detail"]
    await call(client, f"{teacher_path}/plan", plan, 409)
