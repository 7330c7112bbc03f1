"""Platform health for the operators' page: consumer lag, dead letters and relay lag.

Reporting's own figures are read in-process (its dead letters, the lag of its projection
groups); the three writing services' come from their ``/admin`` routes over HTTP (base URLs
``CPD_<SERVICE>_URL``, default 127.0.0.1:8001-8003, as ``cpd`` uses). Every call has a short
timeout and the result is cached for a few seconds, so a page never waits long for a service
that is down; pages show the cached figures and refresh them in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from cpd_events.topics import ALL_TOPICS
from cpd_eventstore import list_dead_letters
from cpd_eventstore.db import Pool
from cpd_eventstore.lag import consumer_lag
from reporting.generations import list_generations

#: The services reporting asks over HTTP, and their default ports (as ``make up`` runs them).
WRITERS: dict[str, int] = {"entitlement": 8001, "catalogue": 8002, "mentoring": 8003}
#: Seconds a health reading is served before it is read again.
FRESH_SECONDS = 10.0
TIMEOUT_SECONDS = 1.5


@dataclass
class ServiceHealth:
    service: str
    reachable: bool
    relay_lag: int | None = None
    relay_published: int | None = None
    relay_error: str | None = None
    dead_letters_failed: int | None = None
    dead_letters_parked: int | None = None
    consumer_lag_events: int | None = None
    worst_lag_seconds: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.reachable
            and not self.dead_letters_failed
            and (self.relay_lag or 0) < 1000
            and (self.consumer_lag_events or 0) < 1000
        )


@dataclass
class HealthReading:
    services: list[ServiceHealth]
    read_at: float

    @property
    def dead_letters(self) -> int:
        return sum(
            (s.dead_letters_failed or 0) + (s.dead_letters_parked or 0) for s in self.services
        )

    @property
    def consumer_lag_events(self) -> int:
        return sum(s.consumer_lag_events or 0 for s in self.services)

    @property
    def relay_lag(self) -> int:
        return sum(s.relay_lag or 0 for s in self.services)

    @property
    def unreachable(self) -> list[str]:
        return [s.service for s in self.services if not s.reachable]


def service_url(service: str) -> str:
    return os.environ.get(f"CPD_{service.upper()}_URL", f"http://127.0.0.1:{WRITERS[service]}")


def _count(letters: list[dict[str, Any]], status: str) -> int:
    return sum(1 for letter in letters if letter.get("status") == status)


def _lag_totals(lags: list[dict[str, Any]]) -> tuple[int, float | None]:
    events = sum(int(lag.get("lag_events") or 0) for lag in lags)
    seconds = [float(lag["lag_seconds"]) for lag in lags if lag.get("lag_seconds") is not None]
    return events, max(seconds) if seconds else None


async def _writer(client: httpx.AsyncClient, service: str) -> ServiceHealth:
    base = service_url(service)
    health = ServiceHealth(service, reachable=False)
    try:
        relay, letters, lag = await asyncio.gather(
            client.get(f"{base}/admin/relay"),
            client.get(f"{base}/admin/dead-letters"),
            client.get(f"{base}/admin/lag"),
        )
    except httpx.HTTPError as error:
        health.error = f"not reachable at {base} ({type(error).__name__})"
        return health
    health.reachable = True
    if relay.status_code == 200:
        body = relay.json()
        health.relay_lag, health.relay_published = body["lag"], body["published"]
        health.relay_error = body.get("last_error")
    if letters.status_code == 200:
        health.dead_letters_failed = _count(letters.json(), "failed")
        health.dead_letters_parked = _count(letters.json(), "parked")
    if lag.status_code == 200:
        health.consumer_lag_events, health.worst_lag_seconds = _lag_totals(lag.json())
    return health


async def _reporting(pool: Pool, bootstrap_servers: str | None) -> ServiceHealth:
    health = ServiceHealth("reporting", reachable=True)
    letters = await list_dead_letters(pool)
    health.dead_letters_failed = sum(1 for d in letters if d.status == "failed")
    health.dead_letters_parked = sum(1 for d in letters if d.status == "parked")
    if bootstrap_servers is None:
        return health
    groups = ["reporting.feed"] + [
        g.group_id for g in await list_generations(pool) if g.status in ("live", "building")
    ]
    try:
        lags = await asyncio.wait_for(
            asyncio.gather(
                *(consumer_lag(bootstrap_servers, g, ALL_TOPICS, within=2) for g in groups)
            ),
            TIMEOUT_SECONDS * 2,
        )
    except Exception as error:  # the broker is away: say so, keep the rest
        health.error = f"broker: {type(error).__name__}"
        return health
    flat = [lag.model_dump() for group in lags for lag in group]
    health.consumer_lag_events, health.worst_lag_seconds = _lag_totals(flat)
    return health


async def read_health(pool: Pool, bootstrap_servers: str | None) -> HealthReading:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        found = await asyncio.gather(
            *(_writer(client, s) for s in WRITERS), _reporting(pool, bootstrap_servers)
        )
    return HealthReading(list(found), time.time())


@dataclass
class HealthCache:
    """The latest reading; a stale one is refreshed in the background (one read at a time)."""

    reading: HealthReading | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def current(self, pool: Pool, bootstrap_servers: str | None) -> HealthReading | None:
        """The cached reading (``None`` before the first), starting a refresh if stale."""
        stale = self.reading is None or time.time() - self.reading.read_at > FRESH_SECONDS
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh(pool, bootstrap_servers))
        return self.reading

    async def fresh(self, pool: Pool, bootstrap_servers: str | None) -> HealthReading:
        self.current(pool, bootstrap_servers)
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)
        if self.reading is None:
            self.reading = HealthReading([], time.time())
        return self.reading

    async def _refresh(self, pool: Pool, bootstrap_servers: str | None) -> None:
        try:
            self.reading = await read_health(pool, bootstrap_servers)
        except Exception as error:  # the database is away: show that rather than nothing
            failed = ServiceHealth("reporting", reachable=False, error=repr(error))
            self.reading = HealthReading([failed], time.time())

    @property
    def stamp(self) -> str:
        return f"{self.reading.read_at:.0f}" if self.reading else "none"
