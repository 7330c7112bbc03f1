"""Observability across the four service processes: one trace per command over OTLP, JSON logs
without personal data or secrets, and Prometheus metrics on every service.

The services export spans over OTLP/HTTP to a tiny receiver run by the test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cpd_platform.embedded import free_port
from cpd_platform.launcher import SERVICES, Platform
from cpd_platform.testing import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

TRACE = uuid.uuid4().hex
TRUST, URN, TRN = "7301", "173001", "7300001"
GIVEN, FAMILY = "Zephyrinaqx", "Quillfeatherqx"


class Receiver(ThreadingHTTPServer):
    """OTLP/HTTP (protobuf) trace receiver: keeps (service, name, trace, span, parent, kind)."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    found.append(
                        {
                            "service": service,
                            "name": span.name,
                            "trace": span.trace_id.hex(),
                            "span": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None,
                            "kind": span.kind,
                            "attributes": {a.key: a.value for a in span.attributes},
                        }
                    )
        with self.server.lock:
            self.server.spans.extend(found)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def platform(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> Iterator[Platform]:
    platform = Platform(
        home=tmp_path_factory.mktemp("traces"),
        database_url=infra.postgres_url,
        bootstrap_servers=None,
        ports={service: free_port() for service in SERVICES},
        broker_port=free_port(),
        partitions=2,
        database_prefix=f"tr_{uuid.uuid4().hex[:8]}_",
        service_env={
            "CPD_CONSUMER_SESSION_TIMEOUT_MS": "2000",
            "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "REPORTING_FEED_WEBHOOK_ALLOW_PRIVATE": "true",
            "REPORTING_FEED_WEBHOOK_REQUIRE_HTTPS": "false",
            "REPORTING_FEED_WEBHOOK_BACKOFF_BASE_S": "0.5",
        },
    )
    platform.start_infrastructure()
    try:
        asyncio.run(platform.prepare())
        platform.start_services()
        asyncio.run(platform.wait_healthy(120))
        yield platform
    finally:
        platform.stop()


def until(check: Callable[[], Any], within: float = 30) -> Any:
    started = time.monotonic()
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() - started > within:
                raise
            time.sleep(0.1)


def post(http: httpx.Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    response = http.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_one_command_one_trace_logs_and_metrics(platform: Platform, receiver: Receiver) -> None:
    entitlement, reporting = platform.url("entitlement"), platform.url("reporting")
    http = httpx.Client(timeout=30, headers=platform.operator_headers())
    post(http, f"{entitlement}/trusts", {"trust_id": TRUST, "name": "Trace Trust"})
    post(
        http,
        f"{entitlement}/schools",
        {
            "urn": URN,
            "name": "Trace Primary",
            "local_authority": "201",
            "phase": "State-funded primary",
            "pp50": False,
        },
    )
    post(
        http,
        f"{entitlement}/schools/{URN}/trust",
        {"trust_id": TRUST, "effective_from": "2025-09-01"},
    )
    # the command followed: a caller's trace, continued by every service
    post(
        http,
        f"{entitlement}/teachers",
        {
            "trn": TRN,
            "school_urn": URN,
            "given_name": GIVEN,
            "family_name": FAMILY,
            "career_stage": "experienced",
            "fte": "100",
            "registered_on": "2025-09-01",
        },
        traceparent=f"00-{TRACE}-00f067aa0ba902b7-01",
        **{"x-correlation-id": "corr-trace-e2e"},
    )
    issued = post(http, f"{reporting}/admin/trusts/{TRUST}/credentials", {"label": "finance"})
    api_key = issued["api_key"]
    webhook = post(
        http,
        f"{reporting}/trusts/{TRUST}/webhooks",
        {"url": f"http://127.0.0.1:{free_port()}/hook"},  # nobody listens: deliveries fail
        authorization=f"Bearer {api_key}",
    )
    secret = webhook["secret"]

    def whole_trace() -> list[dict[str, Any]]:
        with receiver.lock:
            spans = [s for s in receiver.spans if s["trace"] == TRACE]
        names = {(s["service"], s["name"]) for s in spans}
        for wanted in [
            ("entitlement", "POST /teachers"),
            ("entitlement", "eventstore.append"),
            ("entitlement", "relay.publish"),
            ("mentoring", "consumer.handle TeacherRegistered"),
            ("reporting", "reporting.apply TeacherRegistered"),
        ]:
            assert wanted in names, sorted(names)
        return spans

    spans = until(whole_trace)
    by_id = {s["span"]: s for s in spans}
    server = next(s for s in spans if s["name"] == "POST /teachers")
    assert server["parent"] == "00f067aa0ba902b7"
    for span in spans:
        if span is server:
            continue
        # every span of the trace descends from the command's server span
        chain, seen = span, 0
        while chain["parent"] in by_id and seen < 20:
            chain, seen = by_id[chain["parent"]], seen + 1
        assert chain is server, (span["service"], span["name"])
    consumers = {s["service"] for s in spans if s["name"].startswith("consumer.handle")}
    assert {"mentoring"} <= consumers
    print(f"\none trace: {len(spans)} spans from {sorted({s['service'] for s in spans})}")

    # metrics on every service, webhook failures on reporting's
    def failures_counted() -> str:
        text = http.get(f"{reporting}/metrics").text
        assert 'webhook_delivery_failures_total{reason="transport"}' in text
        assert 'webhook_subscriptions{status="failing"} 1.0' in text
        return text

    text = until(failures_counted, within=30)
    assert 'reporting_projection_last_event_age_seconds{generation="reporting_feed"' in text
    assert 'consumer_lag_events{group="reporting.feed"' in text
    for service in SERVICES:
        scraped = http.get(f"{platform.url(service)}/metrics")
        assert scraped.status_code == 200
        health = f'http_requests_total{{method="GET",route="/health",service="{service}",'
        assert health in scraped.text
        assert 'metrics_source_up{source="dead_letters"} 1.0' in scraped.text
    entitlement_metrics = http.get(f"{entitlement}/metrics").text
    assert 'relay_lag_events{topic="cpd.entitlement.events"}' in entitlement_metrics
    assert 'route="/teachers"' in entitlement_metrics
    assert "consumer_lag_events{" in entitlement_metrics

    # logs: JSON lines with service, correlation and trace ids, and none of the secrets
    time.sleep(0.5)
    forbidden = [GIVEN, FAMILY, api_key, secret, api_key.rpartition("_")[2], secret[6:]]
    lines = 0
    traced = []
    for service in SERVICES:
        path = Path(platform.logs / f"{service}.log")
        for raw in path.read_text().splitlines():
            if not raw.strip():
                continue
            lines += 1
            for value in forbidden:
                assert value not in raw, f"{service} logged a secret or a name: {raw}"
            line = json.loads(raw)  # every line is JSON, the standard library's too
            assert line.get("service") == service, raw
            if line.get("correlation_id") == "corr-trace-e2e" or TRACE in raw:
                traced.append(line)
    assert lines > 0
    assert traced, "no log line of the traced command"
    for line in traced:
        assert line.get("trace_id") == TRACE, line
