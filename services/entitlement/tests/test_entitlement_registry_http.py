"""The registry over HTTP on a real runtime (PostgreSQL, the broker, the outbox relay) with the
real registry-view subscription: trusts, funding models, memberships, CPD leads and the
operators' schools without a CPD lead, read back from entitlement's own topic.

Identifiers are fresh per run (the broker's topic is shared by the tests of a session), and the
schools-without-lead query is filtered by a local authority made up for this run.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from cpd_events import Envelope
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_events.types import CareerStage
from cpd_eventstore import migrate
from cpd_eventstore.db import Pool
from cpd_platform.http import PROBLEM_JSON
from cpd_platform.testing import Infrastructure, eventually
from entitlement.api import router
from entitlement.consumers import MIGRATIONS
from entitlement.registry_api import router as registry_router
from entitlement.registry_view import REGISTRY_VIEW, project_registry, schools_without_cpd_lead

from .entitlement_http import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(infra: Infrastructure) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(infra, [router, registry_router], [REGISTRY_VIEW]) as (client, _):
        yield client


async def call(
    http: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None, expect: int = 0
) -> Any:
    """POST ``body`` (expecting 201) or, without one, GET ``path`` (expecting 200)."""
    expect = expect or (200 if body is None else 201)
    response = await (http.get(path) if body is None else http.post(path, json=body))
    assert response.status_code == expect, response.text
    if expect >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
    return response.json()


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


def fresh(digits: int, count: int) -> list[str]:
    low = 10 ** (digits - 1)
    return [str(n) for n in random.sample(range(low, 10 * low), count)]


async def test_trusts_memberships_cpd_leads_and_schools_without_a_lead(
    http: httpx.AsyncClient,
) -> None:
    la = f"T{uuid.uuid4().hex[:8]}"  # a local authority of this run only
    u1, u2, u3, nowhere = fresh(6, 4)
    t1, t2, t3, stranger = fresh(7, 4)
    trust, other_trust = fresh(9, 2)
    for urn in (u1, u2, u3):
        school = {"urn": urn, "name": f"School {urn}", "local_authority": la, "phase": "Primary"}
        await call(http, "/schools", school)

    # trusts and their funding model
    await call(http, "/trusts", {"trust_id": trust, "name": "Harbour Trust", "region": "london"})
    problem = await call(http, "/trusts", {"trust_id": trust, "name": "Again"}, 409)
    assert fields_of(problem) == {"trust_id"}
    await call(http, "/trusts", {"trust_id": other_trust, "name": "Moor Trust"})
    problem = await call(http, "/trusts", {"trust_id": "T-1", "name": "x", "extra": 1}, 422)
    assert fields_of(problem) == {"trust_id", "extra"}
    model = f"/trusts/{trust}/funding-model"
    problem = await call(
        http,
        model,
        {"model": "hybrid", "central_share_percent": 0, "effective_from": "2025-09-01"},
        422,
    )
    assert fields_of(problem) == {"central_share_percent"}
    assert "strictly between 0 and 100" in problem["detail"]
    problem = await call(http, model, {"model": "hybrid", "effective_from": "2025-09-01"}, 422)
    assert fields_of(problem) == {"central_share_percent"}
    problem = await call(http, model, {"model": "mutual", "effective_from": "2025-09-01"}, 422)
    assert fields_of(problem) == {"model"}
    hybrid = {"model": "hybrid", "central_share_percent": "30", "effective_from": "2025-09-01"}
    await call(http, model, hybrid)
    await call(http, model, hybrid, 409)
    await call(http, f"/trusts/{nowhere}/funding-model", hybrid, 404)
    centralised = {"model": "centralised", "effective_from": "2025-09-01"}
    await call(http, f"/trusts/{other_trust}/funding-model", centralised)

    # schools join and leave trusts
    joining = {"trust_id": trust, "effective_from": "2025-09-01"}
    accepted = await call(http, f"/schools/{u1}/trust", joining)
    assert accepted["events"] == ["SchoolJoinedTrust"]
    problem = await call(
        http, f"/schools/{u1}/trust", {"trust_id": other_trust, "effective_from": "2025-09-01"}, 409
    )
    assert fields_of(problem) == {"trust_id"}
    assert f"in trust {trust}" in problem["detail"]
    problem = await call(
        http, f"/schools/{u2}/trust", {"trust_id": nowhere, "effective_from": "2025-09-01"}, 404
    )
    assert fields_of(problem) == {"trust_id"}
    await call(http, f"/schools/{nowhere}/trust", joining, 404)
    problem = await call(http, f"/schools/{u2}/trust/leave", {"effective_from": "2026-01-01"}, 409)
    assert fields_of(problem) == {"trust_id"}
    problem = await call(http, f"/schools/{u1}/trust/leave", {"effective_from": "2025-08-01"}, 422)
    assert fields_of(problem) == {"effective_from"}
    await call(http, f"/schools/{u3}/trust", joining)
    left = await call(
        http, f"/schools/{u3}/trust/leave", {"effective_from": "2026-08-31", "reason": "moved"}
    )
    assert left["events"] == ["SchoolLeftTrust"]

    # teachers and CPD leads
    for trn, urn in ((t1, u1), (t2, u2), (t3, u1)):
        teacher = {
            "trn": trn,
            "school_urn": urn,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "career_stage": "experienced",
            "fte": "100",
            "registered_on": "2025-09-01",
        }
        await call(http, "/teachers", teacher)
    lead = {"trn": t1, "funded_hours_per_week": "4", "effective_from": "2025-09-01"}
    problem = await call(http, f"/schools/{u1}/cpd-lead", {**lead, "trn": t2}, 409)
    assert fields_of(problem) == {"trn"}
    problem = await call(http, f"/schools/{u1}/cpd-lead", {**lead, "trn": stranger}, 404)
    assert fields_of(problem) == {"trn"}
    for hours in ("0", "40.5"):
        problem = await call(
            http, f"/schools/{u1}/cpd-lead", {**lead, "funded_hours_per_week": hours}, 422
        )
        assert fields_of(problem) == {"funded_hours_per_week"}
    problem = await call(http, f"/schools/{u1}/cpd-lead", {**lead, "note": "x"}, 422)
    assert fields_of(problem) == {"note"}
    await call(http, f"/schools/{u1}/cpd-lead", lead)
    await call(http, f"/schools/{u1}/cpd-lead", lead, 409)
    trust_lead = {"trn": t3, "funded_hours_per_week": "7.5", "effective_from": "2025-09-01"}
    await call(http, f"/trusts/{trust}/cpd-leads", trust_lead)
    problem = await call(http, f"/trusts/{trust}/cpd-leads", {**trust_lead, "trn": t2}, 409)
    assert fields_of(problem) == {"trn"}

    school = await call(http, f"/schools/{u1}")
    assert (school["trust_id"], school["joined_trust_on"], school["local_authority"]) == (
        trust,
        "2025-09-01",
        la,
    )
    assert school["cpd_lead"] == {
        "trn": t1,
        "funded_hours_per_week": "4.00",
        "effective_from": "2025-09-01",
        "active": True,
    }
    assert (await call(http, f"/schools/{u3}"))["trust_id"] is None
    await call(http, f"/schools/{nowhere}", expect=404)
    await call(http, f"/trusts/{nowhere}", expect=404)

    # the read model: the trust's schools, and the schools with no CPD lead
    async def trust_has_its_school() -> bool:
        found = await call(http, f"/trusts/{trust}")
        return bool([(s["urn"], s["cpd_lead_trn"]) for s in found["schools"]] == [(u1, t1)])

    await eventually(trust_has_its_school)
    found = await call(http, f"/trusts/{trust}")
    assert (found["funding_model"], found["central_share_percent"]) == ("hybrid", "30")
    assert found["cpd_leads"] == [
        {"trn": t3, "funded_hours_per_week": "7.50", "effective_from": "2025-09-01", "active": True}
    ]

    without = f"/operators/schools-without-cpd-lead?local_authority={la}"

    async def only_two_without_a_lead() -> bool:
        page = await call(http, without)
        return bool([s["urn"] for s in page["schools"]] == sorted([u2, u3]))

    await eventually(only_two_without_a_lead)
    page = await call(http, without)
    assert page["total"] == 2
    assert {s["reason"] for s in page["schools"]} == {"no CPD lead designated"}
    assert all(s["trust_id"] is None for s in page["schools"])
    second = await call(http, f"{without}&limit=1&offset=1")
    assert (second["total"], [s["urn"] for s in second["schools"]]) == (2, [max(u2, u3)])
    assert (await call(http, f"{without}&limit=0", expect=422))["errors"][0]["field"] == "limit"
    in_trust = await call(http, f"/operators/schools-without-cpd-lead?trust_id={trust}")
    assert in_trust["total"] == 0


async def test_the_view_counts_a_lead_who_left_or_moved_as_no_lead(pool: Pool) -> None:
    """The view applied straight from events, in the order a consumer may see them."""
    await migrate(pool, "entitlement", MIGRATIONS)
    la = "VIEW"

    async def apply(*events: Any) -> None:
        async with pool.acquire() as conn:
            for event in events:
                await project_registry(conn, _ENVELOPE, event)

    schools = [
        SchoolRegistered(urn=urn, name=f"S{urn}", local_authority=la, phase="Primary")
        for urn in ("200001", "200002", "200003")
    ]

    def registered(trn: str, urn: str) -> TeacherRegistered:
        return TeacherRegistered(
            trn=trn,
            school_urn=urn,
            given_name="A",
            family_name="B",
            career_stage=CareerStage.EXPERIENCED,
            fte=100,
            registered_on=date(2025, 9, 1),
        )

    def lead(trn: str, urn: str) -> CPDLeadDesignated:
        return CPDLeadDesignated(
            trn=trn, school_urn=urn, funded_hours_per_week=4, effective_from=date(2025, 9, 1)
        )

    # a lead designated before their registration arrives counts once it does
    await apply(*schools, lead("3000001", "200001"), lead("3000002", "200002"))
    total, rows = await schools_without_cpd_lead(pool, la)
    assert total == 3
    assert rows[0].reason == "CPD lead 3000001 is not (yet) known as a registered teacher"
    await apply(registered("3000001", "200001"), registered("3000002", "200002"))
    total, rows = await schools_without_cpd_lead(pool, la)
    assert [r.urn for r in rows] == ["200003"]

    await apply(
        TeacherLeftProfession(trn="3000001", school_urn="200001", left_on=date(2026, 1, 1)),
        TeacherMovedSchool(
            trn="3000002", from_school_urn="200002", school_urn="200003", moved_on=date(2026, 1, 1)
        ),
    )
    total, rows = await schools_without_cpd_lead(pool, la)
    assert {r.urn: r.reason for r in rows} == {
        "200001": "CPD lead 3000001 left the profession",
        "200002": "CPD lead 3000002 moved to school 200003",
        "200003": "no CPD lead designated",
    }
    await apply(lead("3000002", "200003"))
    total, rows = await schools_without_cpd_lead(pool, la, limit=1)
    assert (total, [r.urn for r in rows]) == (2, ["200001"])


_ENVELOPE: Envelope = None  # type: ignore[assignment]  # the view does not read the envelope
