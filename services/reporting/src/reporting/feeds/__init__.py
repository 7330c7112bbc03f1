"""Trust event feeds: the ordered events about one trust's schools and staff.

- ingestion: :class:`FeedProjection` (a batch projection of the engine, name ``feed``) into the
  tables of :data:`FEED_MIGRATIONS` (schema ``reporting_feed``; never rebuilt: cursors are
  forever);
- pull, server-sent events and webhook management: :data:`router`;
- push: :func:`run_webhook_deliveries` (every instance may run it);
- trust credentials: :func:`issue_credential`, :func:`list_credentials`,
  :func:`revoke_credential` (for the CLI and the operators' routes);
- receivers: :func:`verify_signature`; messages: :class:`FeedItem`, :class:`WebhookDelivery`,
  :func:`asyncapi_document`.
"""

from reporting.feeds.api import router
from reporting.feeds.credentials import issue_credential, list_credentials, revoke_credential
from reporting.feeds.ingest import FeedProjection
from reporting.feeds.models import FeedItem, FeedPage, WebhookDelivery, asyncapi_document
from reporting.feeds.schema import FEED_MIGRATIONS, FEED_SCHEMA
from reporting.feeds.settings import FeedSettings
from reporting.feeds.webhooks import (
    DeliverySettings,
    run_webhook_deliveries,
    sign,
    verify_signature,
)

__all__ = [
    "FEED_MIGRATIONS",
    "FEED_SCHEMA",
    "DeliverySettings",
    "FeedItem",
    "FeedPage",
    "FeedProjection",
    "FeedSettings",
    "WebhookDelivery",
    "asyncapi_document",
    "issue_credential",
    "list_credentials",
    "revoke_credential",
    "router",
    "run_webhook_deliveries",
    "sign",
    "verify_signature",
]
