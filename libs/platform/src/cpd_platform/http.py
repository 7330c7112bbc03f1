"""HTTP conventions shared by the services: problem+json errors, correlation ids, trace context,
and the limits every request meets (body size, page size, no NUL characters)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

import structlog
from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpd_events import Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_eventstore import ConcurrencyError
from cpd_eventstore.db import DATABASE_UNAVAILABLE
from cpd_eventstore.tracing import traceparent_of
from cpd_platform.metrics import UNMATCHED_ROUTE
from cpd_platform.settings import DEFAULT_MAX_BODY_BYTES
from cpd_platform.telemetry import name_server_span, server_span

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
#: Probes: no access line for them.
_QUIET_ROUTES = frozenset({"/health", "/metrics"})
_RULE_STATUS = {Rule.NOT_FOUND: 404, Rule.CONFLICT: 409, Rule.INVALID: 422}
#: FastAPI's detail when a body cannot be decoded at all (not UTF-8, say): answered as 422
_UNPARSABLE_BODY = "There was an error parsing the body"
_PROBLEM_REF = "#/components/schemas/Problem"

#: The most items any page may ask for (``limit``), and the furthest it may skip (``offset``).
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 1_000_000
#: An ``offset`` query parameter, bounded (422 naming ``offset`` beyond it).
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET}")
]


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


class BodyTooLarge(HTTPException):
    """A request body over the limit, noticed while it was read (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


def body_too_large(limit: int) -> JSONResponse:
    message = f"larger than {limit} bytes"
    return problem(
        413,
        "Request body too large",
        f"the request body is larger than {limit} bytes",
        [FieldProblem(field="body", message=message)],
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


def _field_of(item: dict[str, Any]) -> str:
    if item.get("type") == "json_invalid":  # its location is a character position
        return "body"
    return _field_name(tuple(item["loc"]))


def _message_of(item: dict[str, Any]) -> str:
    if item.get("type") == "json_invalid":
        return f"not valid JSON: {item.get('ctx', {}).get('error', item['msg'])}"
    return str(item["msg"])


def install_error_handlers(app: FastAPI) -> None:
    """problem+json for every error, and the OpenAPI document saying so (see
    :func:`document_problems`)."""
    document_problems(app)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(field=_field_of(item), message=_message_of(item))
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
        if isinstance(error, BodyTooLarge):
            return body_too_large(error.limit)
        if error.status_code == 400 and error.detail == _UNPARSABLE_BODY:
            return invalid_body("not valid JSON text (UTF-8)")
        return problem(error.status_code, str(error.detail), str(error.detail))

    @app.exception_handler(CharacterNotInRepertoireError)
    @app.exception_handler(UntranslatableCharacterError)
    async def unstorable_text(_: Request, error: Exception) -> JSONResponse:
        # a NUL character (\u0000) that no validation caught: PostgreSQL stores no such text
        log.warning("http.unstorable_text", error=repr(error))
        return problem(
            422,
            "Invalid request",
            "a text value contains a NUL character (\\u0000), which is not accepted",
        )

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


def invalid_body(message: str) -> JSONResponse:
    return problem(
        422,
        "Invalid request",
        "invalid field(s): body",
        [FieldProblem(field="body", message=message)],
    )


def _nul_in_query(query_string: bytes) -> str | None:
    """The name of the first query parameter with a NUL character in its name or value."""
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return None


class RequestLimits:
    """Refuses what no route can take, before any route runs, as problem+json naming the field:

    - a body over ``max_body_bytes``: 413 ``body``, from its Content-Length at once, or as soon
      as the bytes read pass the limit (chunked bodies);
    - a NUL character in the path or a query parameter: 422 ``path`` or the parameter's name
      (PostgreSQL stores no text with NUL, so it could only fail later, as a 500).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        limit = self.max_body_bytes
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    continue
                if declared > self.max_body_bytes:
                    return body_too_large(self.max_body_bytes)
        if "\x00" in scope.get("path", ""):
            return _nul_refused("path")
        parameter = _nul_in_query(scope.get("query_string", b""))
        if parameter is not None:
            return _nul_refused(parameter)
        return None


def _nul_refused(field: str) -> JSONResponse:
    return problem(
        422,
        "Invalid request",
        f"invalid field(s): {field}",
        [FieldProblem(field=field, message="must not contain NUL characters")],
    )


def install_request_limits(app: FastAPI, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Install :class:`RequestLimits`; call it before :func:`install_request_context`, so that
    its refusals carry a correlation id and are counted like any answer."""
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes)


def document_problems(app: FastAPI) -> None:
    """Make the app's OpenAPI say what its errors are: problem+json (FastAPI documents a
    response model as ``application/json``), and 413 on every operation that takes a body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return problems_as_problem_json(build())

    app.openapi = openapi  # type: ignore[method-assign]


def problems_as_problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every Problem response served as problem+json (in place; idempotent)."""
    if "Problem" not in document.get("components", {}).get("schemas", {}):
        return document
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for response in responses.values():
                content = response.get("content", {})
                if content.get("application/json", {}).get("schema") == {"$ref": _PROBLEM_REF}:
                    content[PROBLEM_JSON] = content.pop("application/json")
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {
                    "description": "The request body is too large",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}},
                }
    return document


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
    """Metadata for the events a request causes: the actor is who the credential speaks for
    (the token's subject); ``x-actor`` counts only where no credential was checked (a bare
    app in a test)."""
    principal = getattr(request.state, "principal", None)
    subject = getattr(principal, "subject", None)
    return Metadata(
        actor=actor
        or (str(subject) if subject else None)
        or request.headers.get("x-actor", "anonymous")[:200]
        or "anonymous",
        correlation_id=request.state.correlation_id,
        traceparent=request.state.traceparent,
    )
