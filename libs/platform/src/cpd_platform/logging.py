"""structlog set-up: JSON lines (console-pretty on a terminal), with service and correlation id.

Every line, ours and the standard library's (uvicorn, aiokafka...), goes through the same
processors: ``service``, the bound ``correlation_id`` (a request's, or the event's being
consumed), ``trace_id``/``span_id`` of the current OpenTelemetry span, and a last guard that
masks fields named like personal data or secrets and anything shaped like our API keys or
webhook signing secrets.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

#: Field names whose values never reach a log line.
REDACTED_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "email",
        "secret",
        "api_key",
        "password",
        "token",
        "authorization",
    }
)
#: API keys (``cpdf_<id>_<secret>``) and webhook secrets (``whsec_...``) inside any text.
_SECRET_TEXT = re.compile(r"\b(cpdf_[0-9a-f]{16}_|whsec_)[A-Za-z0-9_\-]+")
_MASK = "[redacted]"


def _trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if key in REDACTED_FIELDS:
            event[key] = _MASK
        elif isinstance(value, str) and ("cpdf_" in value or "whsec_" in value):
            event[key] = _SECRET_TEXT.sub(rf"\g<1>{_MASK}", value)
    return event


def _with_service(service: str) -> Processor:
    def add(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (replaced, not duplicated, on a second call)."""


def configure_logging(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    pretty = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _with_service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # the standard library's records (uvicorn, aiokafka, faststream) as the same JSON lines
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        own: Any = logging.getLogger(name)
        own.handlers = []  # their own plain-text handlers: their lines go to ours
        own.propagate = True
    for noisy in ("aiokafka", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
