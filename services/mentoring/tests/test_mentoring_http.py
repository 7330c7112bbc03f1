"""The real mentoring app over HTTP, against a real PostgreSQL and the real broker.

The registry replica is seeded by feeding registry events straight to the service's consumer
(as if entitlement had published them); everything else goes through HTTP, the event store, the
outbox relay and Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cpd_events import REGISTRY
from cpd_events.registry_events import TeacherLeftProfession
from cpd_events.topics import (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    MENTORING_EVENTS,
)
from cpd_events.types import CareerStage
from cpd_platform.runtime import ServiceRuntime
from cpd_platform.testing import (
    Infrastructure,
    Record,
    create_database,
    drop_database,
    eventually,
    operator_headers,
    read_topic,
)

from .mentoring_records import Streams, unique_trns, unique_urns

pytestmark = pytest.mark.integration

ECT = CareerStage.ECT_YEAR_1


@dataclass
class Service:
    app: FastAPI
    http: httpx.AsyncClient
    streams: Streams

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    async def replicate(self, *records: Record) -> None:
        outcome = await self.runtime.consumers["registry-replica"].handle_batch(records)
        assert outcome.failed == 0

    async def post(self, path: str, body: dict[str, Any], expect: int = 201) -> Any:
        response = await self.http.post(path, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    async def get(self, path: str, expect: int = 200) -> Any:
        response = await self.http.get(path)
        assert response.status_code == expect, response.text
        return response.json()

    async def version(self, stream_id: str) -> int:
        return await self.runtime.require_store().stream_version(stream_id)

    async def applied(self, stream_id: str) -> int:
        """The version of a stream the service's consumer has applied."""
        version = await self.runtime.require_pool().fetchval(
            "select version from es.consumer_streams where consumer = $1 and stream_id = $2",
            "mentoring.registry-replica",
            stream_id,
        )
        return int(version or 0)


@pytest.fixture(scope="module")
async def service(infra: Infrastructure) -> AsyncIterator[Service]:
    """One app for the module: starting one joins a consumer group, which takes seconds.

    The tests share it but not their data: each uses fresh TRNs and URNs.
    """
    database_url = await create_database(infra.postgres_url)
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DATABASE_URL", database_url)
            env.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap_servers)
            env.setenv("CPD_CONSUMER_SESSION_TIMEOUT_MS", "2000")
            env.setenv("CPD_CONSUMER_HEARTBEAT_INTERVAL_MS", "500")
            env.setenv("CPD_ECT_MENTOR_GRACE_DAYS", "10")
            from mentoring.main import build_app  # its module-level app reads the environment

            app = build_app()
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://mentoring",
                headers=operator_headers(),
            ) as http,
        ):
            yield Service(app, http, Streams())
    finally:
        await drop_database(infra.postgres_url, database_url)


async def school_with_teachers(
    service: Service, count: int, ects: int = 0
) -> tuple[str, list[str]]:
    """A school and ``count`` teachers at it, the last ``ects`` early career teachers."""
    (urn,) = unique_urns(1)
    trns = unique_trns(count)
    stages = [CareerStage.EXPERIENCED] * (count - ects) + [ECT] * ects
    await service.replicate(
        service.streams.school(urn),
        *(service.streams.registered(t, urn, stage) for t, stage in zip(trns, stages, strict=True)),
    )
    return urn, trns


def assignment(mentee: str, assignment_id: str | None = None, **more: Any) -> dict[str, Any]:
    body = {"mentee_trn": mentee, "programme": "early_career_induction", "starts_on": "2025-09-01"}
    return {**body, **({"assignment_id": assignment_id} if assignment_id else {}), **more}


async def test_every_command_and_query_over_http(service: Service) -> None:
    urn, (mentor, lead, ect, ect2) = await school_with_teachers(service, 4, ects=2)
    (other_urn,) = unique_urns(1)
    await service.replicate(service.streams.school(other_urn))

    teacher = await service.get(f"/teachers/{mentor}")
    assert (teacher["school_urn"], teacher["school_name"]) == (urn, "Primary school")
    assert (await service.get(f"/schools/{urn}"))["name"] == "Primary school"

    await service.post("/mentors", {"trn": mentor, "school_urn": urn})
    await service.post("/mentors", {"trn": lead, "school_urn": urn})
    await service.post(f"/mentors/{mentor}/schools", {"school_urn": other_urn})
    await service.post(
        f"/mentors/{mentor}/training",
        {"course_id": "ucl-mentor-development", "completed_on": "2025-07-10", "hours": "20"},
    )
    await service.post(f"/mentors/{mentor}/capacity", {"max_mentees": 4})
    written = await service.post(f"/mentors/{mentor}/assignments", assignment(ect, "asg-1"))
    assert (written["stream_id"], written["mentee_stream_id"]) == (
        f"mentor-{mentor}",
        f"mentee-{ect}",
    )
    session = await service.post(
        f"/mentors/{mentor}/sessions",
        {"assignment_id": "asg-1", "held_on": "2025-10-01", "minutes": 50, "focus": "planning"},
    )
    assert (session["hours"], session["academic_year"]) == ("0.83", "2025/26")
    assert session["session_id"].startswith("ses-")
    first_lead = await service.post(f"/schools/{urn}/lead-mentor", {"trn": mentor})
    second_lead = await service.post(f"/schools/{urn}/lead-mentor", {"trn": lead})
    assert (first_lead["replaces_trn"], second_lead["replaces_trn"]) == (None, mentor)
    lead_view = await service.get(f"/schools/{urn}/lead-mentor")
    assert (lead_view["trn"], lead_view["previous"]) == (lead, [mentor])
    await service.get(f"/schools/{other_urn}/lead-mentor", expect=404)

    replaced = await service.post(
        f"/mentees/{ect}/programmes/early_career_induction/replace",
        {"new_mentor_trn": lead, "reason": "mentor on leave", "on": "2026-01-05"},
    )
    assert (replaced["previous_mentor_trn"], replaced["ended_assignment_id"]) == (mentor, "asg-1")
    assert set(replaced["versions"]) == {f"mentor-{mentor}", f"mentor-{lead}", f"mentee-{ect}"}
    await service.post(f"/mentors/{lead}/assignments", assignment(ect2, "asg-2"))
    await service.post(
        f"/mentors/{lead}/assignments/asg-2/end",
        {"ended_on": "2025-09-05", "reason": "moved school"},
    )

    mentor_view = await service.get(f"/mentors/{mentor}")
    assert mentor_view["schools"] == [urn, other_urn]
    assert (mentor_view["max_mentees"], mentor_view["active_mentees"]) == (4, 0)
    assert [t["hours"] for t in mentor_view["trainings"]] == ["20.00"]
    assert [s["minutes"] for s in mentor_view["sessions"]] == [50]
    assert mentor_view["assignments"][0]["end_reason"] == "mentor on leave"
    mentee_view = await service.get(f"/mentees/{ect}")
    (ecf,) = mentee_view["programmes"]
    assert ecf["active"]["mentor_trn"] == lead
    assert [p["mentor_trn"] for p in ecf["past"]] == [mentor]

    # the relay publishes every event; the consumer brings them back into the read model
    relay = service.runtime.relay
    assert relay is not None
    await eventually(relay.lag, until=lambda lag: lag == 0)
    await eventually(lambda: service.applied(f"mentor-{mentor}"), until=lambda v: v == 7)
    await eventually(lambda: service.applied(f"mentor-{lead}"), until=lambda v: v == 4)
    flags = await service.get(f"/flags/ects-without-mentor?as_of=2025-10-01&school_urn={urn}")
    assert flags["grace_days"] == 10  # CPD_ECT_MENTOR_GRACE_DAYS
    assert [e["trn"] for e in flags["ects"]] == [ect2]  # whose mentorship ended on 5 Sept
    query = f"/flags/ects-without-mentor?as_of=2025-09-12&days=5&school_urn={urn}"
    (flag,) = (await service.get(query))["ects"]
    assert (flag["trn"], flag["without_mentor_since"], flag["days_without_mentor"]) == (
        ect2,
        "2025-09-05",
        7,
    )

    # every event is on the topic, keyed by its stream, with the headers
    expected = {
        f"mentor-{mentor}": [
            "MentorRegistered",
            "MentorSchoolAdded",
            "MentorTrainingCompleted",
            "MentorCapacitySet",
            "MentorAssigned",
            "MentoringSessionLogged",
            "MentorshipEnded",
        ],
        f"mentor-{lead}": [
            "MentorRegistered",
            "MentorAssigned",
            "MentorAssigned",
            "MentorshipEnded",
        ],
        f"mentee-{ect}": ["MenteeMatched", "MenteeReleased", "MenteeMatched"],
        f"mentee-{ect2}": ["MenteeMatched", "MenteeReleased"],
        f"school-lead-mentor-{urn}": ["LeadMentorDesignated", "LeadMentorDesignated"],
    }
    records = await read_topic(
        service.runtime.settings.kafka_bootstrap_servers,
        MENTORING_EVENTS,
        sum(len(types) for types in expected.values()),
        keys=expected,
    )
    found: dict[str, list[str]] = {}
    for record in records:
        envelope, _ = REGISTRY.parse(record.value or b"")
        assert record.key == envelope.stream_id.encode()
        headers = {k: v.decode() for k, v in record.headers}
        assert headers[HEADER_EVENT_TYPE] == envelope.event_type
        assert headers[HEADER_EVENT_ID] == str(envelope.event_id)
        assert headers[HEADER_SCHEMA_VERSION] == str(envelope.schema_version)
        found.setdefault(envelope.stream_id, []).append(envelope.event_type)
    assert found == expected


async def test_two_assignments_for_the_last_slot_exactly_one_wins(service: Service) -> None:
    urn, (mentor, first, second) = await school_with_teachers(service, 3)
    await service.post("/mentors", {"trn": mentor, "school_urn": urn})
    await service.post(f"/mentors/{mentor}/capacity", {"max_mentees": 1})
    responses = await asyncio.gather(
        service.http.post(f"/mentors/{mentor}/assignments", json=assignment(first)),
        service.http.post(f"/mentors/{mentor}/assignments", json=assignment(second)),
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    (lost,) = (r for r in responses if r.status_code == 409)
    assert lost.headers["content-type"] == "application/problem+json"
    assert "capacity" in lost.json()["detail"]
    assert (await service.get(f"/mentors/{mentor}"))["active_mentees"] == 1
    loser = second if responses[0].status_code == 201 else first
    assert await service.version(f"mentee-{loser}") == 0  # nothing written for the loser


async def test_two_mentors_for_one_mentee_at_once_exactly_one_wins(service: Service) -> None:
    urn, (mentor_a, mentor_b, mentee) = await school_with_teachers(service, 3)
    for mentor in (mentor_a, mentor_b):
        await service.post("/mentors", {"trn": mentor, "school_urn": urn})
    responses = await asyncio.gather(
        service.http.post(f"/mentors/{mentor_a}/assignments", json=assignment(mentee)),
        service.http.post(f"/mentors/{mentor_b}/assignments", json=assignment(mentee)),
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    (lost,) = (r for r in responses if r.status_code == 409)
    assert lost.json()["errors"][0]["field"] == "mentee_trn"
    winner, loser = (
        (mentor_a, mentor_b) if responses[0].status_code == 201 else (mentor_b, mentor_a)
    )
    (ecf,) = (await service.get(f"/mentees/{mentee}"))["programmes"]
    assert (ecf["active"]["mentor_trn"], ecf["past"]) == (winner, [])
    assert (await service.get(f"/mentors/{loser}"))["assignments"] == []


async def test_refusals_are_problems_naming_the_field_and_write_nothing(service: Service) -> None:
    urn, (mentor, mentee, leaver, full) = await school_with_teachers(service, 4)
    (unknown_teacher,) = unique_trns(1)
    (unknown_school,) = unique_urns(1)
    await service.replicate(
        service.streams.teacher(
            TeacherLeftProfession(trn=leaver, school_urn=urn, left_on=date(2025, 12, 31)), leaver
        )
    )

    async def problem(path: str, body: dict[str, Any], status: int) -> list[str]:
        response = await service.http.post(path, json=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return [e["field"] for e in response.json()["errors"]]

    # input validation
    assert await problem("/mentors", {"trn": "123", "school_urn": urn}, 422) == ["trn"]
    assert await problem("/mentors", {"trn": mentor, "school_urn": urn, "x": 1}, 422) == ["x"]
    # the replica's facts
    assert await problem("/mentors", {"trn": unknown_teacher, "school_urn": urn}, 404) == ["trn"]
    assert await problem("/mentors", {"trn": leaver, "school_urn": urn}, 409) == ["trn"]
    assert await problem("/mentors", {"trn": mentor, "school_urn": unknown_school}, 404) == [
        "school_urn"
    ]
    await service.post("/mentors", {"trn": mentor, "school_urn": urn})
    assignments = f"/mentors/{mentor}/assignments"
    assert await problem(assignments, assignment(mentor), 422) == ["mentee_trn"]
    assert await problem(assignments, assignment(leaver), 409) == ["mentee_trn"]
    assert await problem(assignments, assignment(unknown_teacher), 404) == ["mentee_trn"]
    assert await problem(assignments, assignment(mentee, programme="golf"), 422) == ["programme"]
    await service.post(assignments, assignment(mentee, "asg-1"))
    sessions = f"/mentors/{mentor}/sessions"
    session = {"assignment_id": "asg-1", "held_on": "2025-10-01", "minutes": 60, "focus": "x"}
    assert await problem(sessions, {**session, "minutes": 0}, 422) == ["minutes"]
    assert await problem(sessions, {**session, "focus": " "}, 422) == ["focus"]
    assert await problem(sessions, {**session, "held_on": "2025-08-31"}, 422) == ["held_on"]
    assert await problem(sessions, {**session, "assignment_id": "asg-9"}, 404) == ["assignment_id"]
    replace = f"/mentees/{mentee}/programmes/npq/replace"
    body = {"new_mentor_trn": mentor, "reason": "r", "on": "2026-01-05"}
    assert await problem(replace, body, 404) == ["programme"]
    # a replacement is all or nothing: the new mentor at capacity keeps the old mentorship
    await service.post("/mentors", {"trn": full, "school_urn": urn})
    await service.post(f"/mentors/{full}/capacity", {"max_mentees": 0})
    replace = f"/mentees/{mentee}/programmes/early_career_induction/replace"
    assert await problem(replace, {**body, "new_mentor_trn": full}, 409) == []
    assert await problem(replace, {**body, "new_mentor_trn": mentor}, 409) == ["new_mentor_trn"]
    early = {**body, "new_mentor_trn": full, "on": "2025-08-01"}
    assert await problem(replace, early, 422) == ["on"]
    await service.get(f"/teachers/{unknown_teacher}", expect=404)
    await service.get(f"/mentors/{unknown_teacher}", expect=404)

    # refused commands wrote nothing
    assert await service.version(f"mentor-{mentor}") == 2
    assert await service.version(f"mentee-{mentee}") == 1
    assert await service.version(f"mentor-{full}") == 2
    for trn in (unknown_teacher, leaver):
        assert await service.version(f"mentor-{trn}") == 0
        assert await service.version(f"mentee-{trn}") == 0
