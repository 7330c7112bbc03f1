"""HTTP conventions shared by the services: problem+json errors, correlation ids, trace context."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from cpd_events import Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_eventstore import ConcurrencyError
from cpd_eventstore.db import DATABASE_UNAVAILABLE
from cpd_eventstore.tracing import traceparent_of
from cpd_platform.metrics import UNMATCHED_ROUTE
from cpd_platform.telemetry import name_server_span, server_span

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
#: Probes: no access line for them.
_QUIET_ROUTES = frozenset({"/health", "/metrics"})
_RULE_STATUS = {Rule.NOT_FOUND: 404, Rule.CONFLICT: 409, Rule.INVALID: 422}


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=errors or [])
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


#: Documented error responses, for routes' ``responses=``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text}
    for status, text in (
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (422, "Invalid input or a business rule broken"),
        (503, "A dependency is unavailable; retry later"),
    )
}


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(field=_field_name(tuple(item["loc"])), message=item["msg"])
            for item in error.errors()
        ]
        fields = ", ".join(sorted({e.field for e in errors}))
        return problem(422, "Invalid request", f"invalid field(s): {fields}", errors)

    @app.exception_handler(RuleBroken)
    async def rule_broken(_: Request, error: RuleBroken) -> JSONResponse:
        errors = [FieldProblem(field=error.field, message=error.message)] if error.field else []
        return problem(_RULE_STATUS[error.rule], "Command refused", error.message, errors)

    @app.exception_handler(ConcurrencyError)
    async def conflict(_: Request, error: ConcurrencyError) -> JSONResponse:
        return problem(
            409, "Concurrent change", f"{error}; retried and still conflicting, try again"
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), str(error.detail))

    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        log.warning("http.dependency_unavailable", error=repr(error))
        return problem(
            503,
            "Service unavailable",
            "the database is unreachable; nothing was changed, retry shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("http.unexpected_error", error=repr(error))
        return problem(500, "Internal error", "an unexpected error; nothing more is known here")

    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, unavailable)  # type: ignore[arg-type]


def install_request_context(app: FastAPI) -> None:
    """Bind a correlation id and W3C trace context to each request (and its log lines).

    Each request runs in an OpenTelemetry server span that continues an incoming
    ``traceparent``; events the request appends carry that trace on (see ``telemetry``). The
    request is counted and timed by route template in ``app.state.metrics`` if there is one.
    """

    @app.middleware("http")
    async def context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        correlation_id = request.headers.get("x-correlation-id") or secrets.token_hex(16)
        request.state.correlation_id = correlation_id[:200]
        status = 500
        with server_span(request.method, request.headers) as span:
            # no tracer provider (a bare app): a traceparent of our own, as before
            traceparent = traceparent_of(span) or _new_traceparent(request)
            request.state.traceparent = traceparent
            with structlog.contextvars.bound_contextvars(
                correlation_id=request.state.correlation_id, trace_id=traceparent[3:35]
            ):
                try:
                    response = await call_next(request)
                    status = response.status_code
                finally:
                    seconds = time.perf_counter() - started
                    route = getattr(request.scope.get("route"), "path", None) or UNMATCHED_ROUTE
                    name_server_span(span, request.method, route, status)
                    metrics = getattr(request.app.state, "metrics", None)
                    if metrics is not None:
                        metrics.observe_request(route, request.method, status, seconds)
                    if route not in _QUIET_ROUTES:  # the access line: the template, no raw path
                        log.info(
                            "http.request",
                            method=request.method,
                            route=route,
                            status=status,
                            ms=round(seconds * 1000, 1),
                        )
        response.headers["x-correlation-id"] = request.state.correlation_id
        return response


def _new_traceparent(request: Request) -> str:
    match = _TRACEPARENT.match(request.headers.get("traceparent", ""))
    trace_id = match.group(1) if match else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def metadata_of(request: Request, actor: str | None = None) -> Metadata:
    """Metadata for the events a request causes."""
    return Metadata(
        actor=actor or request.headers.get("x-actor", "anonymous")[:200] or "anonymous",
        correlation_id=request.state.correlation_id,
        traceparent=request.state.traceparent,
    )
