"""Settings of the trust feeds, from ``REPORTING_FEED_*`` environment variables.

The API reads them from ``app.state.feed_settings`` when set (tests, wiring), else from the
environment.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from pydantic_settings import BaseSettings, SettingsConfigDict

from reporting.feeds.webhooks import DeliverySettings


class FeedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_FEED_", extra="ignore")

    #: Server-sent events: how often a stream looks for new entries, and sends a comment when idle.
    sse_poll_s: float = 0.25
    sse_keepalive_s: float = 15.0
    #: Webhook targets: allow plain http, and hosts on this machine or private networks (tests).
    webhook_require_https: bool = True
    webhook_allow_private: bool = False
    webhook_batch_size: int = 100
    webhook_concurrency: int = 8
    webhook_timeout_s: float = 10.0
    webhook_backoff_base_s: float = 10.0
    webhook_backoff_cap_s: float = 3600.0
    webhook_give_up_after_s: float = 24 * 3600.0

    def delivery(self) -> DeliverySettings:
        return DeliverySettings(
            batch_size=self.webhook_batch_size,
            concurrency=self.webhook_concurrency,
            timeout_s=self.webhook_timeout_s,
            lease_s=max(60.0, self.webhook_timeout_s * 3),
            backoff_base_s=self.webhook_backoff_base_s,
            backoff_cap_s=self.webhook_backoff_cap_s,
            give_up_after_s=self.webhook_give_up_after_s,
        )


@lru_cache(maxsize=1)
def _from_environment() -> FeedSettings:
    return FeedSettings()


def feed_settings_of(request: Request) -> FeedSettings:
    found = getattr(request.app.state, "feed_settings", None)
    return found if isinstance(found, FeedSettings) else _from_environment()
