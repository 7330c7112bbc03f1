"""Prometheus metrics of a service, as text at ``GET /metrics``.

Series (every one labelled ``service`` by the scraper's target, and HTTP ones here too):

``http_requests_total{service,route,method,status}``, ``http_request_duration_seconds`` (a
    histogram by ``service,route,method``): ``route`` is the route template
    (``/teachers/{trn}``), never the raw path; a path no route matches is ``<unmatched>``.
``relay_lag_events{topic}``: events stored but not yet published (the relay's ``lag()``).
``consumer_lag_events{group,topic,partition}``, ``consumer_lag_seconds{...}``: every consumer
    group of the service (Kafka subscriptions and batch engines), from the fetch high-water mark
    (:mod:`cpd_eventstore.lag`); computed in the background, at most every ``lag_ttl_s``.
``reporting_projection_lag_events{generation,group}``,
``reporting_projection_last_event_age_seconds{generation,group}``: batch engines (reporting):
    records behind the high-water mark, and now minus ``occurred_at`` of the newest event applied.
``dead_letters{consumer,status}``: ``failed`` and ``parked`` events in ``es.dead_letters``.
``metrics_source_up{source}``: 0 when a source could not be read for this scrape.

Values read at scrape time each have a short timeout, so ``/metrics`` never hangs on a slow
database or broker. Services add their own series with :func:`register_collector` (counters
updated as things happen) and :func:`register_scrape_source` (read on each scrape).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cpd_events.topics import ALL_TOPICS
from cpd_eventstore.lag import consumer_lag

if TYPE_CHECKING:
    from cpd_platform.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``*_created`` series: noise for Prometheus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED_ROUTE = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: A source of series read on each scrape: the runtime in, metric families out.
ScrapeSource = Callable[["ServiceRuntime"], Awaitable[Iterable[Metric]]]

_collectors: list[tuple[Collector, str | None]] = []
_sources: list[tuple[str, ScrapeSource, str | None]] = []


def register_collector(collector: Collector, service: str | None = None) -> None:
    """Expose ``collector`` (e.g. an unregistered Counter) by every service, or only ``service``."""
    _collectors.append((collector, service))


def register_scrape_source(name: str, source: ScrapeSource, service: str | None = None) -> None:
    """Read ``source`` on each scrape of every service's ``/metrics``, or only ``service``'s."""
    _sources.append((name, source, service))


class _Snapshot(Collector):
    """The families read at the last scrape."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class ServiceMetrics:
    """The metrics registry of one service (one per app, so tests may build several)."""

    def __init__(
        self,
        service: str,
        *,
        lag_ttl_s: float = 10.0,
        lag_within_s: float = 5.0,
        scrape_timeout_s: float = 2.0,
    ) -> None:
        self.service = service
        self.lag_ttl_s = lag_ttl_s
        self.lag_within_s = lag_within_s
        self.scrape_timeout_s = scrape_timeout_s
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            ["service", "route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["service", "route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        for collector, only in _collectors:
            if only in (None, service):
                self.registry.register(collector)
        self._lag: list[Metric] = []
        self._lag_at: float | None = None
        self._lag_task: asyncio.Task[None] | None = None

    # HTTP ---------------------------------------------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, route, method, str(status)).inc()
        self.latency.labels(self.service, route, method).observe(seconds)

    # scrape -------------------------------------------------------------------------------------

    async def render(self, runtime: ServiceRuntime | None) -> bytes:
        """The exposition text, after reading the scrape-time sources (each with a timeout)."""
        families: list[Metric] = []
        up = GaugeMetricFamily(
            "metrics_source_up", "1 if the source was read for this scrape", labels=["source"]
        )
        if runtime is not None and runtime.pool is not None:
            reads: list[tuple[str, Awaitable[Iterable[Metric]]]] = [
                ("relay", _relay_lag(runtime)),
                ("dead_letters", _dead_letters(runtime)),
                ("projections", _projections(runtime)),
                ("consumer_lag", self._consumer_lag(runtime)),
            ]
            reads += [
                (name, source(runtime))
                for name, source, only in _sources
                if only in (None, runtime.name)
            ]
            results = await asyncio.gather(
                *(asyncio.wait_for(read, self.scrape_timeout_s) for _, read in reads),
                return_exceptions=True,
            )
            for (name, _), result in zip(reads, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("metrics.source_failed", source=name, error=repr(result))
                    up.add_metric([name], 0)
                else:
                    families.extend(result)
                    up.add_metric([name], 1)
        families.append(up)
        self._snapshot.families = families
        return generate_latest(self.registry)

    async def _consumer_lag(self, runtime: ServiceRuntime) -> list[Metric]:
        """Cached lag of every group; refreshed in the background when older than the TTL.

        The first scrape waits for the first computation (within the scrape timeout).
        """
        now = time.monotonic()
        stale = self._lag_at is None or now - self._lag_at > self.lag_ttl_s
        if stale and (self._lag_task is None or self._lag_task.done()):
            self._lag_task = asyncio.create_task(self._refresh_lag(runtime))
        if self._lag_at is None and self._lag_task is not None:
            await asyncio.shield(self._lag_task)
        return self._lag

    async def _refresh_lag(self, runtime: ServiceRuntime) -> None:
        groups = consumer_groups(runtime)
        events = GaugeMetricFamily(
            "consumer_lag_events",
            "Records produced but not yet consumed, per consumer group and partition",
            labels=["group", "topic", "partition"],
        )
        seconds = GaugeMetricFamily(
            "consumer_lag_seconds",
            "Age of the oldest unconsumed record (0 when caught up)",
            labels=["group", "topic", "partition"],
        )
        results = await asyncio.gather(
            *(
                consumer_lag(
                    runtime.settings.kafka_bootstrap_servers,
                    group,
                    topics,
                    within=self.lag_within_s,
                )
                for group, topics in groups.items()
            ),
            return_exceptions=True,
        )
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("metrics.consumer_lag_failed", group=group, error=repr(result))
                continue
            for lag in result:
                labels = [group, lag.topic, str(lag.partition)]
                events.add_metric(labels, lag.lag_events)
                if lag.lag_seconds is not None:
                    seconds.add_metric(labels, lag.lag_seconds)
        self._lag = [events, seconds]
        self._lag_at = time.monotonic()

    async def close(self) -> None:
        if self._lag_task is not None and not self._lag_task.done():
            self._lag_task.cancel()
            with contextlib.suppress(BaseException):
                await self._lag_task


def consumer_groups(runtime: ServiceRuntime) -> dict[str, Sequence[str]]:
    """Consumer group -> topics, for the service's subscriptions and batch engines."""
    groups: dict[str, Sequence[str]] = {
        runtime.consumers[s.name].name: s.topics
        for s in runtime.subscriptions
        if s.name in runtime.consumers
    }
    for name, consumer in runtime.more_consumers().items():
        groups[name] = getattr(consumer, "topics", ALL_TOPICS)
    return groups


async def _relay_lag(runtime: ServiceRuntime) -> list[Metric]:
    family = GaugeMetricFamily(
        "relay_lag_events", "Events stored but not yet published by the relay", labels=["topic"]
    )
    if runtime.relay is not None:
        family.add_metric([runtime.relay.topic], await runtime.relay.lag())
    return [family]


async def _dead_letters(runtime: ServiceRuntime) -> list[Metric]:
    family = GaugeMetricFamily(
        "dead_letters",
        "Events a consumer could not handle (failed) and those waiting behind them (parked)",
        labels=["consumer", "status"],
    )
    counts = {(name, status): 0 for name in consumer_groups(runtime) for status in _STATUSES}
    rows = await runtime.require_pool().fetch(
        "select consumer, status, count(*) as n from es.dead_letters"
        " where status = any($1::text[]) group by consumer, status",
        list(_STATUSES),
    )
    counts.update({(r["consumer"], r["status"]): r["n"] for r in rows})
    for (consumer, status), n in sorted(counts.items()):
        family.add_metric([consumer, status], n)
    return [family]


_STATUSES = ("failed", "parked")


async def _projections(runtime: ServiceRuntime) -> list[Metric]:
    """Freshness of batch engines (objects with ``progress.lag`` and ``progress.last_event_at``)."""
    lag = GaugeMetricFamily(
        "reporting_projection_lag_events",
        "Records of the topics not yet applied by the projection engine",
        labels=["generation", "group"],
    )
    age = GaugeMetricFamily(
        "reporting_projection_last_event_age_seconds",
        "Now minus occurred_at of the newest event the projection applied",
        labels=["generation", "group"],
    )
    now = time.time()
    engines: dict[str, Any] = dict(runtime.more_consumers())
    for group, engine in sorted(engines.items()):
        progress = getattr(engine, "progress", None)
        if progress is None or not hasattr(progress, "lag"):
            continue
        labels = [str(getattr(engine, "schema", group)), group]
        lag.add_metric(labels, progress.lag)
        last = getattr(progress, "last_event_at", None)
        if last is not None:
            age.add_metric(labels, max(0.0, now - last))
    return [lag, age]
