"""OpenTelemetry tracing of a service: one trace per command, across services and Kafka.

A command's trace::

    <METHOD> <route>           server span, continues an incoming W3C ``traceparent``
      eventstore.append        the events store this span's ``traceparent`` (es.events)
        relay.publish          per event, child of the stored traceparent; its own traceparent
                               is the Kafka ``traceparent`` header
          consumer.handle <T>  per event (IdempotentConsumer), child of the header
          reporting.apply <T>  per event of a batch (ProjectionEngine), child of the header

Configuration (environment, read by :class:`~cpd_platform.settings.ServiceSettings`):
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) exports spans over
OTLP/HTTP; ``OTEL_TRACES_EXPORTER`` = ``otlp`` (the default endpoint), ``console`` or ``none``.
Without an exporter the SDK still makes trace and span ids (log lines carry them and the
``traceparent`` travels with the events) but samples nothing, and the per-event spans of the
relay and the batch engines are not made at all. Tests inject an exporter (:func:`configure`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cpd_eventstore import tracing

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TraceSettings:
    """Where spans go; see the module docstring."""

    exporter: str | None = None  # "otlp", "console", "none" or None (otlp iff an endpoint)
    endpoint: str | None = None  # OTLP/HTTP base URL (``/v1/traces`` is appended)
    traces_endpoint: str | None = None  # full OTLP/HTTP traces URL

    def kind(self) -> str:
        chosen = (self.exporter or "").strip().lower()
        if chosen in ("otlp", "console", "none"):
            return chosen
        return "otlp" if (self.endpoint or self.traces_endpoint) else "none"


#: providers made here, in order, and whether each exports
_providers: dict[TracerProvider, bool] = {}
_global_set = False


def configure(
    service: str,
    settings: TraceSettings | None = None,
    *,
    exporter: SpanExporter | None = None,
    set_global: bool = True,
) -> TracerProvider:
    """Make the tracer provider of ``service`` and use it for this process's spans.

    ``exporter`` (tests: an ``InMemorySpanExporter``) is used as is, synchronously; otherwise
    ``settings`` decide (OTLP over HTTP in a background batch, or nothing). The global
    OpenTelemetry provider is set once per process (later calls only switch our own tracer).
    """
    global _global_set
    kind = "test" if exporter is not None else (settings or TraceSettings()).kind()
    exporting = kind != "none"
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(ALWAYS_ON if exporting else ALWAYS_OFF),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif kind == "otlp":
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings or TraceSettings())))
    elif kind == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    if set_global and not _global_set:
        trace.set_tracer_provider(provider)
        _global_set = True
    tracing.use(provider, recording=exporting)
    _providers[provider] = exporting
    log.debug("telemetry.configured", exporter=kind)
    return provider


def _otlp_exporter(settings: TraceSettings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip().lower() == "grpc":
        log.warning(
            "telemetry.grpc_not_supported",
            detail="spans go over OTLP/HTTP (http/protobuf): point the endpoint at the"
            " collector's HTTP port (4318)",
        )
    if settings.traces_endpoint:
        return OTLPSpanExporter(endpoint=settings.traces_endpoint)
    if settings.endpoint:
        return OTLPSpanExporter(endpoint=f"{settings.endpoint.rstrip('/')}/v1/traces")
    return OTLPSpanExporter()  # the SDK's default, http://localhost:4318/v1/traces


def shutdown(provider: TracerProvider | None = None) -> None:
    """Flush and stop ``provider`` (default: every one made here); tracing becomes a no-op."""
    for each in [provider] if provider is not None else list(_providers):
        with contextlib.suppress(Exception):
            each.shutdown()
        _providers.pop(each, None)
    if _providers:
        latest = next(reversed(_providers))
        tracing.use(latest, _providers[latest])
    else:
        tracing.use(trace.NoOpTracerProvider(), recording=False)


def recording() -> bool:
    return tracing.recording()


def fastapi_options() -> dict[str, Any]:
    """``FastAPI(**...)``: turn off FastAPI's own telemetry (0.16x+) where it has it.

    Our request middleware makes the server span (and names it by route); FastAPI's would be
    a second server span of the same request, with the raw path (which holds TRNs).
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


@contextlib.contextmanager
def server_span(method: str, headers: Any) -> Iterator[Span]:
    """A SERVER span for one HTTP request, continuing an incoming ``traceparent``.

    Named ``"<METHOD>"`` until :func:`name_server_span` gives it the route template.
    """
    parent = propagate.extract(headers)
    with tracing.tracer().start_as_current_span(
        method,
        context=parent,
        kind=SpanKind.SERVER,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        if span.is_recording():
            span.set_attribute("http.request.method", method)
        yield span


def name_server_span(span: Span, method: str, route: str, status: int) -> None:
    if not span.is_recording():
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
