"""HTTP routes of the trust feeds: pull, server-sent events, webhooks, and operators' keys.

Every ``/trusts/{trust_id}/...`` route needs one of the trust's API keys, as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``: 401 without a valid key, 403 when the
key belongs to another trust. ``/admin/trusts/{trust_id}/credentials`` issues and revokes keys;
it is for operators (tag ``operations``) and is protected by the operators' authentication, not
by trust keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cpd_eventstore.db import Pool
from cpd_platform.auth import principal_of
from cpd_platform.http import PROBLEM_RESPONSES, FieldProblem, Problem, problem
from cpd_platform.runtime import runtime_of
from reporting.feeds.credentials import (
    TrustPrincipal,
    authenticate,
    issue_credential,
    list_credentials,
    revoke_credential,
)
from reporting.feeds.cursor import Cursor, InvalidCursor, decode_cursor
from reporting.feeds.models import (
    CredentialInfo,
    CredentialIssued,
    CredentialRequest,
    FeedPage,
    ReplayRequest,
    WebhookCreated,
    WebhookInfo,
    WebhookRequest,
)
from reporting.feeds.reader import MAX_LIMIT, read_feed
from reporting.feeds.settings import feed_settings_of
from reporting.feeds.webhooks import (
    InvalidWebhookUrl,
    create_webhook,
    delete_webhook,
    list_webhooks,
    replay_webhook,
    validate_webhook_url,
)

FEED_TAG = "trust feeds"
OPERATIONS_TAG = "operations"

#: Problem responses of the feed routes: the platform's, and bad cursors and authentication.
FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    400: {"model": Problem, "description": "A malformed cursor (the problem names the field)"},
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The API key belongs to another trust"},
}

router = APIRouter()

_bearer = HTTPBearer(
    auto_error=False, description="A trust API key: Authorization: Bearer cpdf_..."
)
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A trust API key, as a header"
)

TrustId = Annotated[
    str, Path(pattern=r"^\d{1,10}$", description="Trust group UID", examples=["2044"])
]


def _pool(request: Request) -> Pool:
    return runtime_of(request).require_pool()


async def trust_principal(
    request: Request,
    trust_id: TrustId,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> TrustPrincipal:
    """The trust a request's key speaks for, which must be the trust of the path.

    In the service the platform has checked the credential already (a trust token or one of
    the trust's keys, bound to the path's trust; or an operator's token: reporting.access);
    the key check below is for an app without the platform's access policy.
    """
    checked = principal_of(request)
    if checked is not None:
        return TrustPrincipal(trust_id=trust_id, key_id=checked.credential)
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key>")
    principal = await authenticate(_pool(request), key)
    if principal is None:
        raise HTTPException(401, "the API key is unknown or revoked")
    if principal.trust_id != trust_id:
        raise HTTPException(403, "this API key gives no access to that trust")
    return principal


Principal = Annotated[TrustPrincipal, Depends(trust_principal)]


def _bad_cursor(field: str, error: InvalidCursor) -> JSONResponse:
    return problem(
        400,
        "Invalid cursor",
        f"invalid field(s): {field}",
        [FieldProblem(field=field, message=f"{error}: pass a cursor this feed returned")],
    )


# --- pull -------------------------------------------------------------------------------------


@router.get(
    "/trusts/{trust_id}/feed",
    tags=[FEED_TAG],
    response_model=FeedPage,
    responses=FEED_RESPONSES,
    summary="The trust's events after a cursor, in order",
)
async def get_feed(
    request: Request,
    trust_id: TrustId,
    principal: Principal,
    after: Annotated[
        str | None,
        Query(description="Cursor of the last item read (next_cursor); absent: from the start"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> FeedPage | JSONResponse:
    """The events concerning the trust's schools and staff, after ``after``.

    Pages are stable under concurrent writes: following ``next_cursor`` never skips or repeats
    an item. An event appears once its transaction and every older one on the database have
    finished (normally within a second of being stored).
    """
    try:
        cursor = decode_cursor(after)
    except InvalidCursor as error:
        return _bad_cursor("after", error)
    return await read_feed(_pool(request), trust_id, cursor, limit)


# --- live -------------------------------------------------------------------------------------

#: One server-sent event (as SSE clients and OpenAPI 3.2's ``itemSchema`` see it): its ``data`` is
#: the JSON text of a FeedItem, its ``id`` the item's cursor.
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The item's cursor"},
        "event": {"type": "string"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/FeedItem"},
        },
        "retry": {"type": "integer", "description": "Reconnection delay, in milliseconds"},
    },
}


async def _stream(
    request: Request, pool: Pool, trust_id: str, start: Cursor, poll_s: float, keepalive_s: float
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    cursor = start
    yield "retry: 1000\n\n"
    last_write = loop.time()
    while True:
        page = await read_feed(pool, trust_id, cursor, 500)
        for item in page.items:
            yield f"id: {item.cursor}\ndata: {item.model_dump_json()}\n\n"
        if page.items:
            cursor = decode_cursor(page.next_cursor)
            last_write = loop.time()
        if page.has_more:
            continue
        if loop.time() - last_write >= keepalive_s:
            yield ": keep-alive\n\n"
            last_write = loop.time()
        if await request.is_disconnected():
            return
        await asyncio.sleep(poll_s)


@router.get(
    "/trusts/{trust_id}/feed/stream",
    tags=[FEED_TAG],
    response_class=StreamingResponse,
    responses={
        **FEED_RESPONSES,
        200: {
            "description": "Server-sent events: each `data` is a FeedItem JSON, each `id` its"
            " cursor; comments keep the connection alive",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        },
    },
    summary="The trust's events as they happen (server-sent events)",
)
async def stream_feed(
    request: Request,
    trust_id: TrustId,
    principal: Principal,
    after: Annotated[str | None, Query(description="Start after this cursor")] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Sent by SSE clients on reconnection"),
    ] = None,
) -> Response:
    """Sends the feed from the cursor (``Last-Event-ID`` wins over ``after``), then each new item
    as it becomes readable. Reconnect with the last ``id`` received to resume exactly."""
    field, value = ("Last-Event-ID", last_event_id) if last_event_id else ("after", after)
    try:
        start = decode_cursor(value)
    except InvalidCursor as error:
        return _bad_cursor(field, error)
    settings = feed_settings_of(request)
    return StreamingResponse(
        _stream(
            request,
            _pool(request),
            trust_id,
            start,
            settings.sse_poll_s,
            settings.sse_keepalive_s,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- push -------------------------------------------------------------------------------------


@router.post(
    "/trusts/{trust_id}/webhooks",
    tags=[FEED_TAG],
    status_code=201,
    response_model=WebhookCreated,
    responses=FEED_RESPONSES,
    summary="Subscribe a URL to the trust's feed (the signing secret is shown once)",
)
async def post_webhook(
    request: Request, trust_id: TrustId, principal: Principal, body: WebhookRequest
) -> WebhookCreated | JSONResponse:
    settings = feed_settings_of(request)
    try:
        url = validate_webhook_url(
            body.url, settings.webhook_allow_private, settings.webhook_require_https
        )
    except InvalidWebhookUrl as error:
        return problem(
            422,
            "Invalid request",
            "invalid field(s): url",
            [FieldProblem(field="url", message=str(error))],
        )
    try:
        after = decode_cursor(body.after)
    except InvalidCursor as error:
        return _bad_cursor("after", error)
    return await create_webhook(_pool(request), trust_id, url, after)


@router.get(
    "/trusts/{trust_id}/webhooks",
    tags=[FEED_TAG],
    response_model=list[WebhookInfo],
    responses=FEED_RESPONSES,
    summary="The trust's webhook subscriptions and their delivery status",
)
async def get_webhooks(
    request: Request, trust_id: TrustId, principal: Principal
) -> list[WebhookInfo]:
    return await list_webhooks(_pool(request), trust_id)


async def _one(request: Request, trust_id: str, webhook_id: UUID) -> WebhookInfo:
    found = await list_webhooks(_pool(request), trust_id, webhook_id, attempts=50)
    if not found:
        raise HTTPException(404, f"no webhook {webhook_id} for trust {trust_id}")
    return found[0]


@router.get(
    "/trusts/{trust_id}/webhooks/{webhook_id}",
    tags=[FEED_TAG],
    response_model=WebhookInfo,
    responses=FEED_RESPONSES,
    summary="One subscription's delivery status and latest attempts",
)
async def get_webhook(
    request: Request, trust_id: TrustId, webhook_id: UUID, principal: Principal
) -> WebhookInfo:
    return await _one(request, trust_id, webhook_id)


@router.delete(
    "/trusts/{trust_id}/webhooks/{webhook_id}",
    tags=[FEED_TAG],
    status_code=204,
    responses=FEED_RESPONSES,
    summary="Unsubscribe",
)
async def remove_webhook(
    request: Request, trust_id: TrustId, webhook_id: UUID, principal: Principal
) -> Response:
    if not await delete_webhook(_pool(request), trust_id, webhook_id):
        raise HTTPException(404, f"no webhook {webhook_id} for trust {trust_id}")
    return Response(status_code=204)


@router.post(
    "/trusts/{trust_id}/webhooks/{webhook_id}/replay",
    tags=[FEED_TAG],
    response_model=WebhookInfo,
    responses=FEED_RESPONSES,
    summary="Deliver again from a cursor (null: from the start); also resumes a suspension",
)
async def replay(
    request: Request,
    trust_id: TrustId,
    webhook_id: UUID,
    principal: Principal,
    body: ReplayRequest,
) -> WebhookInfo | JSONResponse:
    try:
        after = decode_cursor(body.after)
    except InvalidCursor as error:
        return _bad_cursor("after", error)
    if not await replay_webhook(_pool(request), trust_id, webhook_id, after):
        raise HTTPException(404, f"no webhook {webhook_id} for trust {trust_id}")
    return await _one(request, trust_id, webhook_id)


@router.post(
    "/trusts/{trust_id}/webhooks/{webhook_id}/resume",
    tags=[FEED_TAG],
    response_model=WebhookInfo,
    responses=FEED_RESPONSES,
    summary="Retry now from where delivery stopped (clears failures and a suspension)",
)
async def resume(
    request: Request, trust_id: TrustId, webhook_id: UUID, principal: Principal
) -> WebhookInfo:
    if not await replay_webhook(_pool(request), trust_id, webhook_id, None):
        raise HTTPException(404, f"no webhook {webhook_id} for trust {trust_id}")
    return await _one(request, trust_id, webhook_id)


# --- operators: trust credentials -------------------------------------------------------------


@router.post(
    "/admin/trusts/{trust_id}/credentials",
    tags=[OPERATIONS_TAG],
    status_code=201,
    response_model=CredentialIssued,
    responses=PROBLEM_RESPONSES,
    summary="Issue an API key for a trust (the key is shown once, only its hash is kept)",
)
async def post_credential(
    request: Request, trust_id: TrustId, body: CredentialRequest
) -> CredentialIssued:
    return await issue_credential(_pool(request), trust_id, body.label)


@router.get(
    "/admin/trusts/{trust_id}/credentials",
    tags=[OPERATIONS_TAG],
    response_model=list[CredentialInfo],
    responses=PROBLEM_RESPONSES,
    summary="A trust's API keys (no secrets)",
)
async def get_credentials(request: Request, trust_id: TrustId) -> list[CredentialInfo]:
    return await list_credentials(_pool(request), trust_id)


@router.delete(
    "/admin/trusts/{trust_id}/credentials/{key_id}",
    tags=[OPERATIONS_TAG],
    status_code=204,
    responses=PROBLEM_RESPONSES,
    summary="Revoke a trust's API key",
)
async def delete_credential(request: Request, trust_id: TrustId, key_id: str) -> Response:
    if not await revoke_credential(_pool(request), key_id, trust_id):
        raise HTTPException(404, f"no live key {key_id} for trust {trust_id}")
    return Response(status_code=204)
