"""What the reporting process runs beside its HTTP API: read-model generations, the trust feed
ingestion and webhook deliveries, each a background task of the service runtime."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog
from pydantic import AliasChoices, Field

from cpd_events.topics import ALL_TOPICS
from cpd_platform.runtime import ServiceRuntime
from cpd_platform.settings import ServiceSettings
from reporting.engine import ProjectionEngine
from reporting.feeds.ingest import FeedProjection
from reporting.feeds.schema import FEED_SCHEMA
from reporting.feeds.settings import FeedSettings
from reporting.feeds.webhooks import run_webhook_deliveries
from reporting.generations import EngineSettings, Generations

log = structlog.get_logger(__name__)

FEED_GROUP = "reporting.feed"


class ReportingSettings(ServiceSettings):
    projection_batch_size: int = Field(
        5000, ge=1, le=100_000, validation_alias=AliasChoices("CPD_PROJECTION_BATCH_SIZE")
    )


@dataclass
class Reporting:
    """The engines of one reporting process (reached by the admin routes)."""

    settings: ReportingSettings
    generations: Generations | None = None
    feed: ProjectionEngine | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def engine_settings(self) -> EngineSettings:
        s = self.settings
        return EngineSettings(
            bootstrap_servers=s.kafka_bootstrap_servers,
            topics=ALL_TOPICS,
            batch_size=s.projection_batch_size,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
        )

    async def run_read_models(self, runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        self.generations = Generations(runtime.require_pool(), self.engine_settings())
        await self.generations.run(stop)

    async def run_feed(self, runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        s = self.engine_settings()
        while not stop.is_set():
            self.feed = ProjectionEngine(
                runtime.require_pool(),
                FeedProjection(),
                schema=FEED_SCHEMA,
                group_id=FEED_GROUP,
                bootstrap_servers=s.bootstrap_servers,
                topics=s.topics,
                batch_size=s.batch_size,
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
                fetch_max_wait_ms=s.fetch_max_wait_ms,
            )
            try:
                await self.feed.run(stop)
            except Exception as error:  # the broker or database went away: start again
                log.error("feed.engine_failed", error=repr(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)

    async def run_webhooks(self, runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await run_webhook_deliveries(runtime.require_pool(), stop, FeedSettings().delivery())

    def engines(self) -> dict[str, ProjectionEngine]:
        """Every engine of this process by consumer group."""
        found: dict[str, ProjectionEngine] = {}
        if self.feed is not None:
            found[self.feed.group_id] = self.feed
        if self.generations is not None:
            for engine in self.generations.engines.values():
                found[engine.group_id] = engine
        return found
