"""The catalogue app over HTTP with a real PostgreSQL and the real broker: every command, the
problem+json errors, the race for a cohort's last place, the events on the topic with their
keys and headers, and the read model catching up from the topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from cpd_events import REGISTRY
from cpd_events.topics import (
    CATALOGUE_EVENTS,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
)
from cpd_platform.http import PROBLEM_JSON
from cpd_platform.testing import Infrastructure, eventually, operator_headers, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(
    infra: Infrastructure, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap_servers)
    monkeypatch.setenv("CPD_CONSUMER_SESSION_TIMEOUT_MS", "2000")
    monkeypatch.setenv("CPD_CONSUMER_HEARTBEAT_INTERVAL_MS", "500")
    from catalogue.main import build_app  # reads its settings from the environment

    app = build_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://catalogue",
            headers=operator_headers(),
        ) as http,
    ):
        yield http


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any], expect: int) -> Any:
    response = await http.post(path, json=body)
    assert response.status_code == expect, response.text
    if expect >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
    return response.json()


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem["errors"]}


async def test_every_command_over_http(
    client: httpx.AsyncClient, infra: Infrastructure, database_url: str
) -> None:
    http, run = client, uuid4().hex[:8]
    provider, other, course = f"prov-{run}", f"gone-{run}", f"course-{run}"
    cohort, trns = f"cohort-{run}", ("1000001", "1000002")

    # providers: register, update (and repeat it: nothing changes), deactivate
    await post(
        http, "/providers", {"provider_id": provider, "name": "Hub", "kind": "curriculum_hub"}, 201
    )
    bad = await post(http, "/providers", {"provider_id": "x", "name": "X", "kind": "npq"}, 422)
    assert fields_of(bad) == {"kind"}
    await post(http, "/providers", {"provider_id": provider, "name": "Y", "kind": "other"}, 409)
    await post(http, f"/providers/{provider}/update", {"name": f"Maths Hub {run}"}, 201)
    again = await post(http, f"/providers/{provider}/update", {"name": f"Maths Hub {run}"}, 200)
    assert again["events"] == []
    await post(http, "/providers", {"provider_id": other, "name": "Old", "kind": "other"}, 201)
    await post(http, f"/providers/{other}/deactivate", {"reason": "closed"}, 201)
    await post(http, f"/providers/{other}/deactivate", {"reason": "closed"}, 409)

    # courses: the NPQ rule names its field; a deactivated provider lists nothing
    listing = {
        "course_id": course,
        "provider_id": provider,
        "title": f"Mastery in mathematics {run}",
        "kind": "npq",
        "subjects": ["mathematics"],
        "phases": ["primary"],
        "career_stages": ["experienced"],
        "hours": "12",
        "price_pence": 0,
        "evidence_summary": f"Evidence from the {run} mastery trials",
    }
    problem = await post(http, "/courses", listing, 422)
    assert fields_of(problem) == {"npq_type"}
    listing["kind"] = "hub"
    problem = await post(http, "/courses", {**listing, "provider_id": other}, 409)
    assert fields_of(problem) == {"provider_id"}
    problem = await post(http, "/courses", {**listing, "hours": "1.234", "extra": 1}, 422)
    assert fields_of(problem) == {"hours", "extra"}
    await post(http, "/courses", listing, 201)
    await post(http, f"/courses/{course}/update", {"price_pence": 0}, 200)  # as it is
    await post(http, f"/courses/{course}/badge", {"level": "gold", "expires_on": "2999-01-01"}, 201)
    await post(http, f"/courses/{course}/badge/revoke", {"reason": "evidence lapsed"}, 201)
    await post(http, f"/courses/{course}/badge/revoke", {"reason": "again"}, 409)

    # a cohort of one place; two CPD leads book it at once: exactly one wins
    problem = await post(
        http,
        f"/courses/{course}/cohorts",
        {"cohort_id": cohort, "starts_on": "2030-01-10", "ends_on": "2030-01-09", "capacity": 1},
        422,
    )
    assert fields_of(problem) == {"ends_on"}
    await post(
        http,
        f"/courses/{course}/cohorts",
        {"cohort_id": cohort, "starts_on": "2030-01-10", "ends_on": "2030-03-10", "capacity": 1},
        201,
    )
    problem = await post(
        http, f"/cohorts/{cohort}/bookings", {"trn": "12345", "school_urn": "100000"}, 422
    )
    assert fields_of(problem) == {"trn"}
    racing = await asyncio.gather(
        *(
            http.post(f"/cohorts/{cohort}/bookings", json={"trn": t, "school_urn": "100000"})
            for t in trns
        )
    )
    assert sorted(r.status_code for r in racing) == [201, 409], [r.text for r in racing]
    [lost] = [r for r in racing if r.status_code == 409]
    assert "full" in lost.json()["detail"]
    places = (await http.get(f"/cohorts/{cohort}")).json()
    assert (places["capacity"], places["booked"], places["places_left"]) == (1, 1, 0)

    # feedback needs a completion (kept from entitlement's CPDCompleted by the consumer;
    # written here directly, the consumer's path has its own test)
    note = {"trn": trns[0], "rating": 5, "impact_note": "Pupils explain their reasoning"}
    problem = await post(http, f"/courses/{course}/feedback", note, 409)
    assert fields_of(problem) == {"trn"}
    problem = await post(http, f"/courses/{course}/feedback", {**note, "rating": 7}, 422)
    assert fields_of(problem) == {"rating"}
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("select to_regclass('catalogue.completions')"))
        await conn.execute(
            "insert into catalogue.completions values ($1, $2, '2030-03-10')", trns[0], course
        )
    finally:
        await conn.close()
    await post(http, f"/courses/{course}/feedback", note, 201)
    await post(http, f"/courses/{course}/feedback", note, 409)

    # the events are on the topic, keyed by stream, with their headers
    streams = {
        f"provider-{provider}": 2,
        f"course-{course}": 3,
        f"cohort-{cohort}": 2,
        f"feedback-{course}-{trns[0]}": 1,
    }
    records = await read_topic(
        infra.bootstrap_servers, CATALOGUE_EVENTS, sum(streams.values()), keys=streams
    )
    types: dict[str, list[str]] = {}
    for record in records:
        envelope, _ = REGISTRY.parse(record.value or b"")
        assert record.key == envelope.stream_id.encode()
        headers = {k: v.decode() for k, v in record.headers}
        assert headers[HEADER_EVENT_TYPE] == envelope.event_type
        assert headers[HEADER_EVENT_ID] == str(envelope.event_id)
        assert headers[HEADER_SCHEMA_VERSION] == str(envelope.schema_version)
        types.setdefault(envelope.stream_id, []).append(envelope.event_type)
    assert types == {
        f"provider-{provider}": ["ProviderRegistered", "ProviderUpdated"],
        f"course-{course}": ["CourseListed", "CourseBadged", "CourseBadgeRevoked"],
        f"cohort-{cohort}": ["CohortScheduled", "CohortPlaceBooked"],
        f"feedback-{course}-{trns[0]}": ["CourseFeedbackSubmitted"],
    }

    # the read model follows the topic: search, stats, providers, cohorts
    async def searched() -> Any:
        page = await http.get("/courses", params={"q": f"{run} mastery", "phase": "primary"})
        items = page.json()["items"]
        return items if items and items[0]["badge_status"] == "revoked" else None

    [item] = await eventually(searched)
    assert (item["course_id"], item["provider_name"]) == (course, f"Maths Hub {run}")

    async def stats() -> Any:
        body = (await http.get(f"/courses/{course}/stats")).json()
        return body if body.get("rating_count") == 1 and body["places_booked"] == 1 else None

    assert (await eventually(stats))["rating_average"] == "5.00"
    hubs = (await http.get("/providers", params={"kind": "curriculum_hub"})).json()
    assert provider in {p["provider_id"] for p in hubs}
    [listed_cohort] = (await http.get(f"/courses/{course}/cohorts")).json()
    assert listed_cohort["places_left"] == 0
    problem = (await http.get("/courses", params={"limit": 0})).json()
    assert fields_of(problem) == {"limit"}

    # retiring: the course stays readable, flagged; it changes and books no more
    await post(http, f"/courses/{course}/retire", {"reason": "replaced"}, 201)
    await post(http, f"/courses/{course}/update", {"title": "New title"}, 409)
    await post(http, f"/cohorts/{cohort}/bookings", {"trn": trns[1], "school_urn": "100000"}, 409)
    view = (await http.get(f"/courses/{course}")).json()
    assert (view["retired"], view["badge_status"]) == (True, "revoked")
    assert (await http.get(f"/courses/nope-{run}")).status_code == 404
