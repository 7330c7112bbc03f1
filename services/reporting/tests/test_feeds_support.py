"""Shared helpers of the trust feed tests (no tests here): events as the engine hands them over,
the feed schema on a real PostgreSQL, and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import uuid4

import uvicorn
from fastapi import FastAPI

from cpd_events import Envelope, Event
from cpd_events.entitlement_events import HoursLogged
from cpd_events.registry_events import (
    SchoolJoinedTrust,
    SchoolLeftTrust,
    TeacherRegistered,
    TrustRegistered,
)
from cpd_events.types import ActivityType, CareerStage
from cpd_eventstore import migrate
from cpd_eventstore.db import Pool
from cpd_platform.embedded import free_port
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from reporting.access import POLICY
from reporting.engine import Consumed
from reporting.feeds import FEED_MIGRATIONS, FeedProjection, FeedSettings, router
from reporting.feeds.cursor import START, Cursor, decode_cursor
from reporting.feeds.models import FeedItem
from reporting.feeds.reader import read_feed

TRUST_A = "2044"
TRUST_B = "3055"
SCHOOL_A = "100001"  # in trust A
SCHOOL_B = "100002"  # in trust B
TEACHER = "1234567"
YEAR = "2025/26"


def at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


class Streams:
    """Builds what the engine hands a projection: events numbered per stream."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = defaultdict(int)
        self._offset = 0

    def __call__(self, stream_id: str, event: Event, occurred: date | datetime) -> Consumed:
        self._versions[stream_id] += 1
        self._offset += 1
        when = occurred if isinstance(occurred, datetime) else at(occurred)
        keys = event.tenancy()
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream_id,
            stream_version=self._versions[stream_id],
            occurred_at=when,
            recorded_at=when,
            correlation_id=f"corr-{self._offset}",
            actor="test",
            trust_id=keys.trust_id,
            school_urn=keys.school_urn,
            teacher_id=keys.teacher_id,
            data=event.model_dump(mode="json"),
        )
        return Consumed(
            envelope=envelope,
            event=event,
            payload=envelope.model_dump_json().encode(),
            topic="cpd.test.events",
            partition=0,
            offset=self._offset,
            timestamp_ms=0,
        )


async def migrated(pool: Pool) -> Pool:
    await migrate(pool, "reporting_feed", FEED_MIGRATIONS)
    return pool


async def apply(pool: Pool, batch: Sequence[Consumed]) -> None:
    """One batch, the way the engine runs it: one transaction, the feed's search path."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("set local search_path to reporting_feed, public")
        await FeedProjection().apply(conn, batch)


async def settled(pool: Pool, within: float = 10.0) -> None:
    """Wait until every feed entry written so far is readable (no older transaction runs).

    Other sessions on the same server can hold the snapshot's xmin back for a moment."""
    deadline = asyncio.get_running_loop().time() + within
    while not await pool.fetchval(
        "select coalesce(max(tx_id) < pg_snapshot_xmin(pg_current_snapshot()), true)"
        " from reporting_feed.trust_feed"
    ):
        assert asyncio.get_running_loop().time() < deadline, "feed entries stay unreadable"
        await asyncio.sleep(0.01)


async def read_all(pool: Pool, trust_id: str, limit: int = 1000) -> list[FeedItem]:
    await settled(pool)
    items: list[FeedItem] = []
    cursor: Cursor = START
    while True:
        page = await read_feed(pool, trust_id, cursor, limit)
        items.extend(page.items)
        cursor = decode_cursor(page.next_cursor)
        if not page.has_more:
            return items


def types_of(items: Sequence[FeedItem]) -> list[str]:
    return [item.event_type for item in items]


def hours_logged(log_id: str, school: str, day: date, **extra: str) -> HoursLogged:
    return HoursLogged(
        log_id=log_id,
        trn=TEACHER,
        school_urn=school,
        academic_year=YEAR,
        hours=Decimal("1.50"),
        activity_type=ActivityType.COURSE,
        activity_date=day,
        **extra,
    )


def two_trusts(streams: Streams) -> list[Consumed]:
    """Trust A with school A and a teacher there; trust B with school B."""
    return [
        streams(
            f"trust-{TRUST_A}", TrustRegistered(trust_id=TRUST_A, name="Alpha"), date(2025, 8, 1)
        ),
        streams(
            f"trust-{TRUST_B}", TrustRegistered(trust_id=TRUST_B, name="Beta"), date(2025, 8, 1)
        ),
        streams(
            f"school-{SCHOOL_A}",
            SchoolJoinedTrust(urn=SCHOOL_A, trust_id=TRUST_A, effective_from=date(2025, 9, 1)),
            date(2025, 8, 2),
        ),
        streams(
            f"school-{SCHOOL_B}",
            SchoolJoinedTrust(urn=SCHOOL_B, trust_id=TRUST_B, effective_from=date(2025, 9, 1)),
            date(2025, 8, 2),
        ),
        streams(
            f"teacher-{TEACHER}",
            TeacherRegistered(
                trn=TEACHER,
                school_urn=SCHOOL_A,
                given_name="Ada",
                family_name="Lovelace",
                career_stage=CareerStage.EXPERIENCED,
                fte=Decimal(100),
                registered_on=date(2025, 9, 1),
            ),
            date(2025, 9, 1),
        ),
    ]


def left(urn: str, trust_id: str, day: date, reason: str = "") -> SchoolLeftTrust:
    return SchoolLeftTrust(urn=urn, trust_id=trust_id, effective_from=day, reason=reason)


def joined(urn: str, trust_id: str, day: date) -> SchoolJoinedTrust:
    return SchoolJoinedTrust(urn=urn, trust_id=trust_id, effective_from=day)


def app_for(pool: Pool, settings: FeedSettings | None = None) -> FastAPI:
    """The feed router on a runtime whose pool is the test's (the lifespan does not run)."""
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="reporting",
            database_url="postgresql://unused/x",
            kafka_bootstrap_servers="x",
        )
    )
    runtime.pool = pool
    app = create_app(
        runtime, title="CPD reporting", description="trust feeds under test", access=POLICY
    )
    app.include_router(router)
    app.state.feed_settings = settings or FeedSettings(
        webhook_require_https=False, webhook_allow_private=True
    )
    return app


@contextlib.asynccontextmanager
async def serving(app: object) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1 with uvicorn (no lifespan); yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the test server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
