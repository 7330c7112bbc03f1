"""GET /metrics of a real service runtime: HTTP by route template, relay and consumer lag,
dead letters, projection freshness; in Prometheus text that parses."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from cpd_events import Metadata, NewEvent
from cpd_events.entitlement_events import HoursLogged
from cpd_eventstore import NO_STREAM, OutboxRelay
from cpd_eventstore.kafka import ensure_topics
from cpd_platform.metrics import ServiceMetrics
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from cpd_platform.testing import Infrastructure, operator_headers

pytestmark = [pytest.mark.integration]

SERVICE = "metrics-test"


@dataclass
class FakeProgress:
    lag: int = 7
    last_event_at: float | None = field(default_factory=lambda: time.time() - 30)


@dataclass
class FakeEngine:
    """What the metrics read of a batch engine (reporting's ProjectionEngine)."""

    topics: list[str]
    schema: str = "reporting_g9"
    progress: FakeProgress = field(default_factory=FakeProgress)


@pytest.fixture
async def service(
    database_url: str, infra: Infrastructure, topic: str
) -> AsyncIterator[tuple[FastAPI, ServiceRuntime]]:
    settings = ServiceSettings(
        service_name=SERVICE,
        database_url=database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        topic_partitions=1,
    )
    runtime = ServiceRuntime(settings, relays=False)
    app = create_app(runtime, "metrics test", "")
    await runtime.start()
    await ensure_topics(infra.bootstrap_servers, [topic], 1)
    group = f"{SERVICE}.engine"
    engine = FakeEngine([topic])
    runtime.more_consumers = lambda: {group: engine}
    runtime.relay = OutboxRelay(runtime.require_pool(), infra.bootstrap_servers, topic)
    try:
        yield app, runtime
    finally:
        await app.state.metrics.close()
        await runtime.stop()


def hours() -> NewEvent:
    return NewEvent(
        event=HoursLogged(
            log_id=uuid.uuid4().hex,
            trn="1234567",
            school_urn="100000",
            academic_year="2025/26",
            hours=Decimal(1),
            activity_type="course",
            activity_date=date(2025, 10, 1),
        )
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def test_metrics_show_requests_lags_dead_letters_and_freshness(
    service: tuple[FastAPI, ServiceRuntime], infra: Infrastructure, topic: str
) -> None:
    app, runtime = service
    pool = runtime.require_pool()
    store = runtime.require_store()
    await store.append(
        "teacher-1234567", NO_STREAM, [hours(), hours(), hours()], Metadata(actor="t")
    )
    publisher = OutboxRelay(pool, infra.bootstrap_servers, topic, name="publisher")
    await publisher.start()
    try:
        assert await publisher.publish_pending() == 3
    finally:
        await publisher.stop()
    await pool.execute(
        """insert into es.dead_letters (consumer, status, stream_id, stream_version, event_id,
               event_type, payload, error)
           values ($1, 'failed', 's-1', 1, $2, 'HoursLogged', '\\x00', 'bad')""",
        f"{SERVICE}.engine",
        uuid.uuid4(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=operator_headers()
    ) as client:
        for _ in range(2):
            assert (await client.get("/health")).status_code == 200
        assert (await client.get("/no/such/path/123")).status_code == 404
        retry = await client.post("/admin/dead-letters/nobody/42/retry")
        assert retry.status_code == 404
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)

    requests = "http_requests_total"
    assert value(found, requests, service=SERVICE, route="/health", method="GET", status="200") == 2
    assert (
        value(found, requests, service=SERVICE, route="<unmatched>", method="GET", status="404")
        == 1
    )
    retry_route = "/admin/dead-letters/{consumer}/{letter_id}/retry"
    assert value(found, requests, service=SERVICE, route=retry_route, method="POST", status="404")
    assert not any("/no/such/path" in str(key) for key in found)  # templates, never raw paths
    count = "http_request_duration_seconds_count"
    assert value(found, count, service=SERVICE, route="/health", method="GET") == 2
    bucket = ("http_request_duration_seconds_bucket", "/health")
    assert any(k[0] == bucket[0] and ("route", bucket[1]) in k[1] for k in found)

    assert value(found, "relay_lag_events", topic=topic) == 3
    group = f"{SERVICE}.engine"
    assert value(found, "consumer_lag_events", group=group, topic=topic, partition="0") == 3
    assert value(found, "dead_letters", consumer=group, status="failed") == 1
    assert value(found, "dead_letters", consumer=group, status="parked") == 0
    labels = {"generation": "reporting_g9", "group": group}
    assert value(found, "reporting_projection_lag_events", **labels) == 7
    age = value(found, "reporting_projection_last_event_age_seconds", **labels)
    assert 29 <= age < 120
    for source in ("relay", "dead_letters", "projections", "consumer_lag"):
        assert value(found, "metrics_source_up", source=source) == 1
    assert "/metrics" not in app.openapi()["paths"]


async def test_metrics_answer_when_the_runtime_is_not_started() -> None:
    metrics = ServiceMetrics("reporting")
    metrics.observe_request("/x/{y}", "GET", 200, 0.01)
    text = (await metrics.render(None)).decode()
    found = samples(text)
    assert (
        value(
            found,
            "http_requests_total",
            service="reporting",
            route="/x/{y}",
            method="GET",
            status="200",
        )
        == 1
    )
    import reporting.feeds.webhooks as webhooks  # registers its counter with reporting's metrics

    webhooks.DELIVERY_FAILURES.labels("transport").inc()
    text = (await ServiceMetrics("reporting").render(None)).decode()
    assert 'webhook_delivery_failures_total{reason="transport"}' in text
    assert "webhook_delivery_failures" not in (await ServiceMetrics("other").render(None)).decode()
