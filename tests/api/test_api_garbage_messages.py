"""Malformed messages on any topic never crash a consumer.

Garbage goes onto every topic the services read (bytes that are not JSON, JSON that is not an
envelope, envelopes of unknown types or versions, invalid payloads, NUL characters, hostile
headers and keys), straight through the broker as a broken or hostile producer would send it.
Every consumer of every service must record each piece as a dead letter with its place on the
topic, answer /health, and go on consuming: its lag drops to zero, and real events published
after the garbage reach every replica and read model.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from cpd_cli.apidocs import consumers
from cpd_events.topics import ALL_TOPICS
from cpd_platform.launcher import Platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


@dataclass(frozen=True)
class Garbage:
    what: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def envelope(run: str, n: int, **changes: Any) -> dict[str, Any]:
    """A well-formed envelope on a stream of its own (so that no real stream is blocked)."""
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "TeacherRegistered",
        "schema_version": 1,
        "stream_id": f"garbage-{run}-{n}",
        "stream_version": 1,
        "occurred_at": now,
        "recorded_at": now,
        "correlation_id": f"garbage-{run}",
        "actor": "garbage",
        "data": {},
        **changes,
    }


def garbage(run: str) -> list[Garbage]:
    def json_of(n: int, **changes: Any) -> bytes:
        return json.dumps(envelope(run, n, **changes)).encode()

    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        Garbage("bytes that are not JSON", b"\xff\xfe\x00not json at all\x80"),
        Garbage("no value (a tombstone)", None, key=b"tombstone"),
        Garbage("an empty value", b""),
        Garbage("JSON that is not an object", b"[1, 2, 3]"),
        Garbage("JSON null", b"null"),
        Garbage("an object that is no envelope", b'{"hello": "world"}'),
        Garbage("an envelope without data", json_of(1, data=None)),
        Garbage("an envelope of negative version", json_of(2, stream_version=-1)),
        Garbage("an envelope with a bad event id", json_of(3, event_id="not-a-uuid")),
        Garbage("an unknown event type", json_of(4, event_type="NoSuchEvent")),
        Garbage("an unknown schema version", json_of(5, schema_version=99)),
        Garbage("a known type with an invalid payload", json_of(6, data={"trn": "abc"})),
        Garbage(
            "a known type with a payload of wrong types",
            json_of(7, event_type="CourseListed", data={"course_id": 1, "hours": []}),
        ),
        Garbage(
            "NUL characters in the envelope",
            json_of(8, stream_id=f"garbage-{run}-\u0000", event_type="No\u0000Such"),
        ),
        Garbage("NUL characters in the payload", json_of(9, data={"name": "a\u0000b"})),
        Garbage("JSON nested 100,000 deep", deep),
        Garbage(
            "hostile headers and key",
            json_of(10, event_type="NoSuchEvent"),
            key=b"\xff\x00\xfe",
            headers=(
                ("event_type", b"\xff\xfe"),
                ("traceparent", b"00-zz-\x00-01"),
                ("schema_version", b"not a number"),
                ("event_id", b"\x00"),
            ),
        ),
    ]


@dataclass(frozen=True)
class Sent:
    what: str
    topic: str
    partition: int
    offset: int


async def publish(bootstrap_servers: str, run: str) -> list[Sent]:
    """Every piece of garbage onto every partition of every topic."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, max_request_size=4_000_000)
    await producer.start()
    sent: list[Sent] = []
    try:
        for topic in ALL_TOPICS:
            for partition in sorted(await producer.partitions_for(topic)):
                for piece in garbage(run):
                    done = await producer.send_and_wait(
                        topic,
                        piece.value,
                        key=piece.key,
                        partition=partition,
                        headers=list(piece.headers),
                    )
                    sent.append(Sent(piece.what, topic, done.partition, done.offset))
    finally:
        await producer.stop()
    return sent


async def until(check: Callable[[], Any], within: float = 60) -> Any:
    """Poll ``check`` until it stops failing an assertion; return what it returned."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.25)


class Services:
    def __init__(self, platform: Platform, http: httpx.AsyncClient) -> None:
        self.platform, self.http = platform, http

    async def get(self, service: str, path: str, **params: Any) -> Any:
        response = await self.http.get(f"{self.platform.url(service)}{path}", params=params)
        assert response.status_code == 200, f"{service} {path}: {response.text}"
        return response.json()

    async def post(self, service: str, path: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(f"{self.platform.url(service)}{path}", json=body)
        assert response.status_code in (200, 201), f"{service} {path}: {response.text}"
        return response.json()

    async def groups(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Every consumer group of every service: group -> (service, topics it reads)."""
        live = [
            g["consumer_group"]
            for g in await self.get("reporting", "/admin/read-models")
            if g["status"] == "live"
        ]
        found: dict[str, tuple[str, tuple[str, ...]]] = {}
        for consumer in consumers():
            names = live if consumer.group.endswith("<N>") else [consumer.group]
            for name in names:
                found[name] = (consumer.service, consumer.topics)
        return found


async def test_garbage_on_every_topic_is_dead_lettered_and_consumers_go_on(
    api_platform: Platform,
) -> None:
    run = uuid.uuid4().hex[:8]
    assert api_platform.bootstrap_servers is not None
    async with httpx.AsyncClient(timeout=30, headers=api_platform.operator_headers()) as http:
        services = Services(api_platform, http)
        groups = await services.groups()
        assert len(groups) >= 7, groups  # 3 + 1 + 1 + 2 (the live read models and the feed)

        sent = await publish(api_platform.bootstrap_servers, run)
        assert len(sent) == len(ALL_TOPICS) * 2 * len(garbage(run))

        # every consumer recorded every piece on the topics it reads, with its place
        async def every_piece_dead_lettered() -> None:
            missing = []
            for group, (service, topics) in groups.items():
                letters = await services.get(service, "/admin/dead-letters", limit=1000)
                places = {
                    (d["topic"], d["partition"], d["offset"])
                    for d in letters
                    if d["consumer"] == group
                }
                missing += [
                    f"{group}: {piece.what} at {piece.topic}/{piece.partition}@{piece.offset}"
                    for piece in sent
                    if piece.topic in topics
                    and (piece.topic, piece.partition, piece.offset) not in places
                ]
            assert not missing, "\n".join(missing)

        await until(every_piece_dead_lettered)

        # ... and is still running: healthy, and real events after the garbage get through
        for service in api_platform.ports:
            health = await services.get(service, "/health")
            assert health["status"] == "ok", health
        number = int(run, 16)
        urn, trn = str(100_000 + number % 900_000), str(1_000_000 + number % 9_000_000)
        provider, course = f"p-{run}", f"c-{run}"
        await real_events(services, urn, trn, provider, course)

        async def replicas_caught_up() -> None:
            # entitlement's events reach mentoring's replica and reporting's read models
            teacher = await services.get("mentoring", f"/teachers/{trn}")
            assert teacher["school_urn"] == urn
            record = await services.get("reporting", f"/teachers/{trn}/record")
            assert record["trn"] == trn
            # catalogue's reach entitlement's replica and catalogue's own read model
            await services.get("entitlement", f"/courses/{course}")
            listed = await services.get("catalogue", "/providers")
            assert provider in {p["provider_id"] for p in listed}

        await until(replicas_caught_up)

        async def no_lag() -> None:
            for service in api_platform.ports:
                lags = await services.get(service, "/admin/lag")
                behind = [lag for lag in lags if lag["lag_events"] > 0]
                assert not behind, f"{service}: {behind}"

        await until(no_lag)


async def real_events(services: Services, urn: str, trn: str, provider: str, course: str) -> None:
    await services.post(
        "entitlement",
        "/schools",
        {
            "urn": urn,
            "name": "After Garbage Primary",
            "local_authority": "201",
            "phase": "State-funded primary",
            "pp50": False,
        },
    )
    await services.post(
        "entitlement",
        "/teachers",
        {
            "trn": trn,
            "school_urn": urn,
            "given_name": "Grace",
            "family_name": "Hopper",
            "career_stage": "experienced",
            "fte": "100",
            "registered_on": "2025-09-01",
        },
    )
    await services.post(
        "catalogue",
        "/providers",
        {"provider_id": provider, "name": "After Garbage", "kind": "other"},
    )
    await services.post(
        "catalogue",
        "/courses",
        {
            "course_id": course,
            "provider_id": provider,
            "title": "Resilience",
            "kind": "other",
            "hours": "6",
            "price_pence": 0,
        },
    )
