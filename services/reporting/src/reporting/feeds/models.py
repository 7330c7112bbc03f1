"""The messages of the trust feeds: what pull, server-sent events and webhooks carry.

:class:`FeedItem` is the one message of every channel: a page of the pull API lists them, each
server-sent event's ``data`` is one (its ``id`` is the item's ``cursor``), and a webhook delivery
(:class:`WebhookDelivery`) posts a batch of them. :func:`asyncapi_document` describes the SSE and
webhook channels in AsyncAPI 3.0 from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

WebhookStatus = Literal["active", "failing", "suspended"]


class FeedItem(BaseModel):
    """One event concerning the trust, as the trust may see it (see ``reporting.feeds.privacy``)."""

    model_config = ConfigDict(frozen=True)

    cursor: str = Field(
        description="Opaque place of this item in the trust's feed: read on after it"
    )
    event_id: UUID
    event_type: str = Field(examples=["HoursLogged"])
    schema_version: int = Field(description="Version of the event contract ``data`` follows")
    stream_id: str = Field(description="The aggregate's stream (a TRN in it may be redacted)")
    stream_version: int
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    school_urn: str | None = Field(default=None, description="The school the event is about")
    actor: str = Field(description="Who did it")
    correlation_id: str
    data: dict[str, Any] = Field(
        description="The event's payload, limited to what the trust may see"
    )


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str = Field(description="Pass as ``after`` to read on (unchanged when empty)")
    has_more: bool = Field(description="True when more items are ready now")


class CredentialIssued(BaseModel):
    key_id: str
    trust_id: str
    label: str
    api_key: str = Field(description="The secret key: shown once, only its hash is kept")
    created_at: datetime


class CredentialInfo(BaseModel):
    key_id: str
    trust_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class CredentialRequest(BaseModel):
    label: str = Field(min_length=1, max_length=200, examples=["finance system"])


class WebhookRequest(BaseModel):
    url: str = Field(
        min_length=1, max_length=500, examples=["https://trust.example.org/cpd-events"]
    )
    after: str | None = Field(
        default=None, description="Deliver from after this cursor (default: the start)"
    )


class WebhookCreated(BaseModel):
    id: UUID
    trust_id: str
    url: str
    secret: str = Field(
        description="Signing secret: shown once. Verify X-CPD-Signature with it"
        " (t=<unix seconds>,v1=hex HMAC-SHA256 of '<t>.<body>')"
    )


class DeliveryAttempt(BaseModel):
    delivery_id: UUID
    attempt: int
    items: int
    from_cursor: str
    to_cursor: str
    outcome: Literal["delivered", "failed"]
    http_status: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime


class WebhookInfo(BaseModel):
    id: UUID
    trust_id: str
    url: str
    status: WebhookStatus = Field(
        description="active; failing (retrying with backoff); suspended (gave up after the"
        " retry window: replay or resume to start again)"
    )
    last_delivered_cursor: str = Field(description="Everything up to here was accepted")
    delivered: int = Field(description="Items delivered so far")
    failures: int = Field(description="Consecutive failed attempts")
    failing_since: datetime | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None
    created_at: datetime
    recent_attempts: list[DeliveryAttempt] = []


class ReplayRequest(BaseModel):
    after: str | None = Field(description="Deliver again everything after this cursor (null: all)")


class WebhookDelivery(BaseModel):
    """The body of one webhook POST: the next items of the feed, in order.

    ``delivery_id`` (also the ``X-CPD-Delivery`` header) is the same on every retry of the same
    batch, which always holds the same items. Items can still arrive twice (after a replay, or a
    response lost on the way back): deduplicate by ``event_id``.
    """

    delivery_id: UUID
    subscription_id: UUID
    trust_id: str
    items: list[FeedItem]
    next_cursor: str = Field(description="The cursor of the last item")


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 description of the live (SSE) and push (webhook) channels."""
    item = FeedItem.model_json_schema(ref_template="#/components/schemas/{model}")
    delivery = WebhookDelivery.model_json_schema(ref_template="#/components/schemas/{model}")
    delivery.pop("$defs", None)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CPD trust feeds",
            "version": "1.0.0",
            "description": "The events concerning one trust's schools and staff, in feed order.",
        },
        "channels": {
            "trustFeedStream": {
                "address": "/trusts/{trust_id}/feed/stream",
                "description": "Server-sent events: each event's id is the item's cursor;"
                " reconnect with Last-Event-ID to resume.",
                "parameters": {"trust_id": {"description": "Trust group UID"}},
                "messages": {"feedItem": {"$ref": "#/components/messages/FeedItem"}},
            },
            "trustWebhook": {
                "address": "{subscription_url}",
                "description": "HTTP POSTs to the trust's registered URL, signed with"
                " X-CPD-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>.",
                "parameters": {"subscription_url": {"description": "The registered URL"}},
                "messages": {"webhookDelivery": {"$ref": "#/components/messages/WebhookDelivery"}},
            },
        },
        "operations": {
            "receiveFeedItems": {
                "action": "receive",
                "channel": {"$ref": "#/channels/trustFeedStream"},
            },
            "receiveWebhookDeliveries": {
                "action": "receive",
                "channel": {"$ref": "#/channels/trustWebhook"},
            },
        },
        "components": {
            "messages": {
                "FeedItem": {
                    "name": "FeedItem",
                    "contentType": "application/json",
                    "payload": {"$ref": "#/components/schemas/FeedItem"},
                },
                "WebhookDelivery": {
                    "name": "WebhookDelivery",
                    "contentType": "application/json",
                    "headers": {
                        "type": "object",
                        "properties": {
                            "X-CPD-Signature": {"type": "string"},
                            "X-CPD-Delivery": {"type": "string", "format": "uuid"},
                        },
                    },
                    "payload": {"$ref": "#/components/schemas/WebhookDelivery"},
                },
            },
            "schemas": {"FeedItem": item, "WebhookDelivery": delivery},
        },
    }
