"""Log lines: JSON with service, correlation and trace ids; personal data and secrets masked."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cpd_eventstore import tracing
from cpd_platform import telemetry
from cpd_platform.logging import configure_logging


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("entitlement", "INFO", "json")
    yield stream
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if getattr(h, "stream", None) is not stream]


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_lines_carry_service_correlation_and_trace_ids(
    json_logs: io.StringIO,
) -> None:
    provider = telemetry.configure("entitlement", exporter=InMemorySpanExporter(), set_global=False)
    try:
        with (
            tracing.tracer().start_as_current_span("work") as span,
            structlog.contextvars.bound_contextvars(correlation_id="corr-1"),
        ):
            structlog.get_logger("t").info("did.something", items=3)
            logging.getLogger("uvicorn.error").warning("a library line")
    finally:
        telemetry.shutdown(provider)
    ours, library = lines(json_logs)
    trace_id = format(span.get_span_context().trace_id, "032x")
    for line in (ours, library):
        assert line["service"] == "entitlement"
        assert line["correlation_id"] == "corr-1"
        assert line["trace_id"] == trace_id
        assert "timestamp" in line
    assert (ours["event"], ours["level"], ours["items"]) == ("did.something", "info", 3)
    assert (library["event"], library["logger"]) == ("a library line", "uvicorn.error")


def test_personal_data_and_secrets_never_reach_a_line(
    json_logs: io.StringIO,
) -> None:
    key = "cpdf_0123456789abcdef_S3cr3tK3yMaterialXYZ"
    secret = "whsec_Zm9vYmFyYmF6cXV4c2VjcmV0"
    log = structlog.get_logger("t")
    log.info("teacher", given_name="Ada", family_name="Lovelace", email="ada@example.org")
    log.warning("oops", error=f"ValueError('bad key {key} or {secret}')", secret=secret)
    logging.getLogger("aiokafka").error("library said %s", key)
    text = json.dumps(lines(json_logs))
    for value in ("Ada", "Lovelace", "ada@example.org", "S3cr3tK3yMaterialXYZ", secret[6:]):
        assert value not in text
    assert "cpdf_0123456789abcdef_[redacted]" in text  # the public key id stays, for support
