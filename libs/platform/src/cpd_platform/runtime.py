"""Wiring of one service process: pool, migrations, outbox relay, Kafka subscribers, health."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from cpd_events.topics import ALL_TOPICS, TOPIC_OF_SERVICE
from cpd_eventstore import (
    EVENTSTORE_MIGRATIONS,
    EventStore,
    IdempotentConsumer,
    Migration,
    OutboxRelay,
    migrate,
)
from cpd_eventstore.consumer import Handler
from cpd_eventstore.db import DATABASE_UNAVAILABLE, Pool, create_pool
from cpd_eventstore.kafka import ensure_topics, wait_for_broker
from cpd_platform import telemetry
from cpd_platform.admin import install_admin_routes
from cpd_platform.auth import AccessPolicy, Guard, authorise_request, install_auth, platform_policy
from cpd_platform.http import (
    install_error_handlers,
    install_request_context,
    install_request_limits,
)
from cpd_platform.logging import configure_logging
from cpd_platform.metrics import CONTENT_TYPE, ServiceMetrics
from cpd_platform.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """A consumer of other services' events: ``handler`` runs inside the consumer's transaction."""

    name: str
    topics: Sequence[str]
    handler: Handler


#: Work a service runs beside its HTTP API until ``stop`` is set (e.g. a scheduled batch).
BackgroundWork = Callable[["ServiceRuntime", asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    migrations: Sequence[Migration] = ()
    #: migrations of other namespaces (schemas) the service owns, applied after its own
    more_migrations: Mapping[str, Sequence[Migration]] = field(default_factory=dict)
    subscriptions: Sequence[Subscription] = ()
    relays: bool = True
    background: Sequence[BackgroundWork] = ()
    pool: Pool | None = field(default=None, init=False)
    store: EventStore | None = field(default=None, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)
    consumers: dict[str, IdempotentConsumer] = field(default_factory=dict, init=False)
    #: consumers of the service's own making (batch projections...) that keep dead letters too:
    #: name -> an object with IdempotentConsumer's ``retry`` and ``discard``
    more_consumers: Callable[[], Mapping[str, Any]] = field(
        default_factory=lambda: dict, init=False
    )
    broker: KafkaBroker | None = field(default=None, init=False)
    tracer_provider: Any = field(default=None, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    @property
    def name(self) -> str:
        return self.settings.service_name

    def require_store(self) -> EventStore:
        if self.store is None:
            raise RuntimeError("service not started")
        return self.store

    def require_pool(self) -> Pool:
        if self.pool is None:
            raise RuntimeError("service not started")
        return self.pool

    async def start(self) -> None:
        s = self.settings
        self.tracer_provider = telemetry.configure(
            self.name,
            telemetry.TraceSettings(
                s.otel_traces_exporter,
                s.otel_exporter_otlp_endpoint,
                s.otel_exporter_otlp_traces_endpoint,
            ),
        )
        self.pool = await _retry(
            lambda: create_pool(s.database_url, max_size=s.database_pool_size),
            s.startup_timeout_s,
            "database",
        )
        await migrate(self.pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
        if self.migrations:
            await migrate(self.pool, self.name, list(self.migrations))
        for namespace, migrations in self.more_migrations.items():
            await migrate(self.pool, namespace, list(migrations))
        self.store = EventStore(self.pool)
        await wait_for_broker(s.kafka_bootstrap_servers, s.startup_timeout_s)
        await ensure_topics(s.kafka_bootstrap_servers, ALL_TOPICS, s.topic_partitions)
        topic = TOPIC_OF_SERVICE.get(self.name)
        if self.relays and topic is not None:
            self.relay = OutboxRelay(
                self.pool, s.kafka_bootstrap_servers, topic, idle_sleep=s.relay_idle_sleep_s
            )
            await self.relay.start()
            self._tasks.append(asyncio.create_task(self.relay.run(self._stop)))
        if self.subscriptions:
            # per-batch access lines at DEBUG: consumer outcomes are logged by our own code
            self.broker = KafkaBroker(
                s.kafka_bootstrap_servers,
                client_id=self.name,
                log_level=logging.DEBUG,
                logger=logging.getLogger("faststream.cpd"),  # ours: JSON lines, like the rest
            )
            for subscription in self.subscriptions:
                self._subscribe(self.broker, subscription)
            await self.broker.start()
        for work in self.background:
            self._tasks.append(asyncio.create_task(work(self, self._stop)))
        log.info("service.started", topics=list(ALL_TOPICS))

    def _subscribe(self, broker: KafkaBroker, subscription: Subscription) -> None:
        assert self.pool is not None
        s = self.settings
        consumer = IdempotentConsumer(
            self.pool, f"{self.name}.{subscription.name}", subscription.handler
        )
        self.consumers[subscription.name] = consumer

        async def raw_body(message: StreamMessage[Any]) -> Any:
            return message.body  # decoding is the consumer's job, so bad bytes dead-letter

        async def on_batch(message: KafkaMessage) -> None:
            records: tuple[ConsumerRecord[bytes, bytes], ...] = message.raw_message
            try:
                await consumer.handle_batch(records)
            except DATABASE_UNAVAILABLE as error:
                log.warning("consumer.database_unavailable", error=repr(error))
                await asyncio.sleep(1)  # the batch is redelivered (nack seeks back)
                raise

        broker.subscriber(
            *subscription.topics,
            group_id=consumer.name,
            batch=True,
            max_records=s.consumer_max_records,
            batch_timeout_ms=100,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
            decoder=raw_body,
            parser=_readable_headers,
        )(on_batch)

    async def stop(self) -> None:
        self._stop.set()
        if self.broker is not None:
            await self.broker.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        if self.relay is not None:
            await self.relay.stop()
        if self.pool is not None:
            await self.pool.close()
        if self.tracer_provider is not None:
            telemetry.shutdown(self.tracer_provider)  # flushes spans not yet exported
            self.tracer_provider = None

    async def health(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await self.require_pool().fetchval("select 1", timeout=2)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {error!r}"
        try:
            await wait_for_broker(self.settings.kafka_bootstrap_servers, within=2)
            checks["broker"] = "ok"
        except Exception as error:
            checks["broker"] = f"unreachable: {error!r}"
        if self.relay is not None:
            checks["relay"] = {
                "leader": self.relay.is_leader,
                "last_error": self.relay.last_error,
            }
        return checks


Records = tuple[ConsumerRecord[bytes, bytes], ...]


async def _readable_headers(
    records: Records, parse: Callable[[Records], Awaitable[StreamMessage[Records]]]
) -> StreamMessage[Records]:
    """FastStream's batch parser decodes every header value as UTF-8 and fails the whole batch
    on one that is not (or is null): then the batch is redelivered, and fails, for ever. Give
    it records whose header values are readable (bad bytes replaced): headers only carry
    tracing context; the value is left as it came (decoding it is the consumer's job, and bad
    values are dead-lettered there)."""
    return await parse(tuple(_with_readable_headers(record) for record in records))


def _with_readable_headers(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    headers = list(record.headers or ())
    readable = [(name, _readable(value)) for name, value in headers]
    return record if readable == headers else dataclasses.replace(record, headers=readable)


def _readable(value: bytes | None) -> bytes:
    return (value or b"").decode("utf-8", errors="replace").encode()


async def _retry(factory: Any, within: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await factory()
        except DATABASE_UNAVAILABLE as error:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"{what} unreachable for {within:.0f} s: {error!r}") from error
            log.info("service.waiting", dependency=what, error=repr(error))
            await asyncio.sleep(0.5)


def create_app(
    runtime: ServiceRuntime, title: str, description: str, access: AccessPolicy | None = None
) -> FastAPI:
    """A FastAPI app that starts and stops the runtime, with errors, health and access wired in.

    Every route runs :func:`cpd_platform.auth.authorise_request` first: ``access`` (the
    service's access.py) has the rule of each route the service adds; the platform's own routes
    (health, metrics, admin) have theirs. A route without a rule stops the start-up.
    """
    s = runtime.settings
    configure_logging(s.service_name, s.log_level, s.log_format)
    guard = Guard.of(platform_policy().merged(*([access] if access is not None else [])))

    metrics = ServiceMetrics(s.service_name, lag_ttl_s=s.metrics_lag_ttl_s)

    @contextlib.asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        guard.check_routes(running)  # a route without an access rule: no start
        if not guard.settings.configured:
            raise RuntimeError(
                "no key to verify tokens: set CPD_AUTH_PUBLIC_KEY (the platform's public key,"
                " `cpd up` sets it), CPD_AUTH_JWKS or CPD_AUTH_JWKS_URL; see docs/security.md"
            )
        await runtime.start()
        try:
            yield
        finally:
            await metrics.close()
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(authorise_request)],
        **telemetry.fastapi_options(),
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    install_error_handlers(app)
    install_request_limits(app, s.max_body_bytes)  # inside the context: correlation ids
    install_request_context(app)
    install_auth(app, guard)

    install_admin_routes(app, runtime)

    @app.get(
        "/health",
        tags=["operations"],
        summary="200 when database and broker answer",
        responses={503: {"description": "The database or the broker does not answer (same body)"}},
    )
    async def health() -> JSONResponse:
        checks = await runtime.health()
        ok = checks["database"] == "ok" and checks["broker"] == "ok"
        body = {"status": "ok" if ok else "unavailable", "service": runtime.name, **checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text: HTTP, relay lag, consumer lag, dead letters (see metrics.py)."""
        return Response(await metrics.render(runtime), media_type=CONTENT_TYPE)

    return app


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime
