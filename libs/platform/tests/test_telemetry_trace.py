"""One command, one trace: HTTP -> append -> relay -> Kafka -> consumer and batch projection.

Real PostgreSQL, a real Kafka-protocol broker and the real relay, IdempotentConsumer and
ProjectionEngine, in one process with an in-memory span exporter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cpd_events import Envelope, Event, NewEvent
from cpd_events.entitlement_events import HoursLogged
from cpd_events.topics import HEADER_TRACEPARENT
from cpd_eventstore import NO_STREAM, EventStore, IdempotentConsumer, OutboxRelay, tracing
from cpd_eventstore.db import Connection, Pool
from cpd_eventstore.kafka import ensure_topics
from cpd_platform import telemetry
from cpd_platform.http import install_error_handlers, install_request_context, metadata_of
from cpd_platform.testing import Infrastructure, read_topic
from reporting.engine import Consumed, ProjectionEngine

pytestmark = [pytest.mark.integration]

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def hours(trn: str) -> NewEvent:
    return NewEvent(
        event=HoursLogged(
            log_id=uuid.uuid4().hex,
            trn=trn,
            school_urn="100000",
            academic_year="2025/26",
            hours=Decimal("1.5"),
            activity_type="course",
            activity_date=date(2025, 10, 1),
        )
    )


def command_app(store: EventStore) -> FastAPI:
    app = FastAPI(**telemetry.fastapi_options())  # our server span only, as create_app
    install_error_handlers(app)
    install_request_context(app)

    @app.post("/teachers/{trn}/hours", status_code=201)
    async def log_hours(request: Request, trn: str) -> dict[str, str]:
        [stored] = await store.append(
            f"teacher-{trn}", NO_STREAM, [hours(trn)], metadata_of(request, "test")
        )
        return {"event_id": str(stored.event_id)}

    return app


class NoteProjection:
    name = "notes"

    def __init__(self) -> None:
        self.applied: list[str] = []

    async def apply(self, conn: Connection, batch: Sequence[Consumed]) -> None:
        self.applied.extend(str(item.envelope.event_id) for item in batch)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.configure("entitlement", exporter=exporter, set_global=False)
    yield exporter
    telemetry.shutdown(provider)


async def run_command(
    pool: Pool, infra: Infrastructure, topic: str, headers: dict[str, str]
) -> tuple[str, list[Envelope], ProjectionEngine, NoteProjection, list[str]]:
    """POST a command, relay it, consume it both ways; return what each step saw."""
    store = EventStore(pool)
    trn = str(uuid.uuid4().int)[:7]
    await ensure_topics(infra.bootstrap_servers, [topic], 1)
    transport = httpx.ASGITransport(app=command_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(f"/teachers/{trn}/hours", headers=headers)
    assert response.status_code == 201, response.text
    relay = OutboxRelay(pool, infra.bootstrap_servers, topic, name=f"relay-{topic}")
    await relay.start()
    try:
        assert await relay.publish_pending() == 1
    finally:
        await relay.stop()
    records = await read_topic(infra.bootstrap_servers, topic, expect=1)
    seen: list[Envelope] = []

    async def handler(_: Connection, envelope: Envelope, __: Event) -> None:
        seen.append(envelope)

    outcome = await IdempotentConsumer(pool, f"test.{topic}", handler).handle_batch(records)
    assert outcome.applied == 1
    schema = f"notes_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"create schema {schema}")
    projection = NoteProjection()
    engine = ProjectionEngine(
        pool,
        projection,
        schema=schema,
        group_id=f"notes.{topic}",
        bootstrap_servers=infra.bootstrap_servers,
        topics=[topic],
    )
    await engine.prepare()
    await engine.handle(records)
    assert projection.applied == [response.json()["event_id"]]
    stored = await pool.fetchval(
        "select traceparent from es.events where event_id = $1", seen[0].event_id
    )
    headers_sent = [
        value.decode() for r in records for key, value in r.headers if key == HEADER_TRACEPARENT
    ]
    return stored, seen, engine, projection, headers_sent


def only(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_the_spans_of_one_command_make_one_trace(
    pool: Pool, infra: Infrastructure, topic: str, exporter: InMemorySpanExporter
) -> None:
    stored, _, engine, _, headers_sent = await run_command(
        pool, infra, topic, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    )
    spans = exporter.get_finished_spans()
    server = only(spans, "POST /teachers/{trn}/hours")
    append = only(spans, "eventstore.append")
    publish = only(spans, "relay.publish")
    consume = only(spans, "consumer.handle HoursLogged")
    apply = only(spans, "reporting.apply HoursLogged")

    # one trace, the caller's, and a chain of parents through every process step
    chain = [server, append, publish, consume, apply]
    assert {format(s.context.trace_id, "032x") for s in chain} == {CALLER_TRACE}
    assert parent_of(server) == int(CALLER_SPAN, 16)
    assert parent_of(append) == server.context.span_id
    assert parent_of(publish) == append.context.span_id
    assert parent_of(consume) == publish.context.span_id
    assert parent_of(apply) == publish.context.span_id
    assert [s.kind for s in chain] == [
        SpanKind.SERVER,
        SpanKind.INTERNAL,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.CONSUMER,
    ]
    # the store keeps the append's traceparent; Kafka carries the publishing span's
    assert stored == f"00-{CALLER_TRACE}-{append.context.span_id:016x}-01"
    assert headers_sent == [f"00-{CALLER_TRACE}-{publish.context.span_id:016x}-01"]
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/teachers/{trn}/hours"
    assert server.attributes["http.response.status_code"] == 201
    assert consume.attributes is not None
    assert apply.attributes is not None
    assert consume.attributes["cpd.outcome"] == "applied"
    assert apply.attributes["messaging.consumer.group.name"] == engine.group_id
    assert all(s.resource.attributes["service.name"] == "entitlement" for s in chain)
    # no personal data in span attributes (the stream id holds a TRN)
    for span in chain:
        assert not any("teacher-" in str(v) for v in (span.attributes or {}).values())


async def test_a_command_without_a_caller_starts_its_own_trace(
    pool: Pool, infra: Infrastructure, topic: str, exporter: InMemorySpanExporter
) -> None:
    await run_command(pool, infra, topic, {})
    spans = exporter.get_finished_spans()
    server = only(spans, "POST /teachers/{trn}/hours")
    assert server.parent is None
    assert len({s.context.trace_id for s in spans}) == 1
    assert len(spans) == 5


async def test_without_an_exporter_ids_still_travel_but_no_event_spans_are_made(
    pool: Pool, infra: Infrastructure, topic: str
) -> None:
    provider = telemetry.configure("entitlement", set_global=False)  # no endpoint: no exporter
    try:
        assert not tracing.recording()
        stored, seen, engine, _, headers_sent = await run_command(
            pool, infra, topic, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"}
        )
    finally:
        telemetry.shutdown(provider)
    assert stored is not None
    assert stored.startswith(f"00-{CALLER_TRACE}-")
    assert stored.endswith("-00")  # not sampled, as the caller asked
    assert headers_sent == [stored]  # the relay made no span: the stored traceparent travels
    assert engine.progress.last_event_at is not None
    assert seen[0].occurred_at.timestamp() == pytest.approx(engine.progress.last_event_at)


async def test_with_no_tracer_provider_the_metadata_traceparent_is_stored(
    pool: Pool, infra: Infrastructure, topic: str
) -> None:
    tracing.use(None, recording=False)  # the global provider: a no-op in tests
    stored, _, _, _, headers_sent = await run_command(pool, infra, topic, {})
    assert stored is not None
    assert len(stored) == 55
    assert headers_sent == [stored]
