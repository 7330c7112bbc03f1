"""Trace context of events: W3C ``traceparent`` in the store, in Kafka headers, in spans.

Only the OpenTelemetry API is used here; a service configures the SDK (``cpd_platform.telemetry``)
and calls :func:`use` with its tracer provider. Until then spans are no-ops.

Spans per event (the relay's ``relay.publish``, the batch engines' ``apply``) are made only
while :func:`recording` is true, i.e. while spans are exported somewhere: otherwise the hot paths
do no per-event tracing work at all, and the stored ``traceparent`` travels unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cpd_events.topics import HEADER_EVENT_TYPE, HEADER_TRACEPARENT

INSTRUMENTATION = "cpd"
_PROPAGATOR = TraceContextTextMapPropagator()


class _State:
    tracer: trace.Tracer = trace.get_tracer(INSTRUMENTATION)  # follows the global provider
    recording: bool = False


def use(provider: trace.TracerProvider | None, recording: bool) -> None:
    """Trace with ``provider`` (None: the global one); ``recording``: spans are exported."""
    source = provider if provider is not None else trace.get_tracer_provider()
    _State.tracer = source.get_tracer(INSTRUMENTATION)
    _State.recording = recording


def tracer() -> trace.Tracer:
    return _State.tracer


def recording() -> bool:
    """Whether spans go anywhere: gates the per-event spans of the hot paths."""
    return _State.recording


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` that makes ``span`` the parent, or None if it has no context."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_traceparent() -> str | None:
    return traceparent_of(trace.get_current_span())


def context_of(traceparent: str | None) -> Context | None:
    """A context whose parent is ``traceparent`` (None if absent or malformed)."""
    if not traceparent:
        return None
    ctx = _PROPAGATOR.extract({"traceparent": traceparent})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) of a ``traceparent``, for log lines."""
    if traceparent and len(traceparent) >= 35 and traceparent[2] == "-":
        return traceparent[3:35]
    return None


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    """A Kafka header's value as text (the first one named ``name``)."""
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode(errors="replace")
    return None


#: Records published longer ago than this get no span: a rebuild re-reading the topics from the
#: start would otherwise add a span to every trace ever made.
LIVE_WITHIN_S = 300.0


def start_event_spans(
    records: Sequence[Any], name: str, attributes: dict[str, Any]
) -> list[tuple[Any, Span]]:
    """One consumer span per live, sampled record (its ``traceparent`` header), as its child.

    Named ``"<name> <event type>"``; the caller ends them (:func:`end_spans`). Call only while
    :func:`recording`: it is per-event work. Records without a sampled ``traceparent`` or
    published more than :data:`LIVE_WITHIN_S` ago are skipped.
    """
    spans: list[tuple[Any, Span]] = []
    start = _State.tracer.start_span
    oldest_ms = (time.time() - LIVE_WITHIN_S) * 1000
    for record in records:
        if getattr(record, "timestamp", 0) < oldest_ms:
            continue
        headers = getattr(record, "headers", None)
        traceparent = header(headers, HEADER_TRACEPARENT)
        if not traceparent or traceparent.endswith("-00"):
            continue  # not sampled upstream: the span would not be recorded
        parent = context_of(traceparent)
        if parent is None:
            continue
        event_type = header(headers, HEADER_EVENT_TYPE) or "event"
        span = start(
            f"{name} {event_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                **attributes,
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "cpd.event_type": event_type,
            },
        )
        spans.append((record, span))
    return spans


def end_spans(spans: Iterable[tuple[Any, Span]], error: BaseException | None = None) -> None:
    for _, span in spans:
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        span.end()
