"""Commands under load, freshness and queries, with the platform running as processes.

Starts the platform (embedded PostgreSQL, Tansu broker, four services) in a temporary home on
free ports, or uses one already running (``--urls``); builds a world through the HTTP APIs
(schools, trusts, teachers, budgets, a policy and its grants, catalogue courses, mentors); then,
for each ``--rate``, a separate process sends an open-loop mix of commands at that rate for
``--seconds`` (mostly entitlement: hours, CPD requests and approvals; mentoring sessions;
catalogue course updates and listings), recording each command's latency and status. One
hours-logged command in ``--sample-every`` goes to a probe teacher that no other command
touches, and the load process polls that teacher's record in reporting until the hours show:
freshness = seen - accepted. After the load phases: p50/p99 of the teacher record, school and
trust dashboards and the national summary. CPU (utime+stime) and memory (VmHWM, VmRSS) of every
service process, PostgreSQL (all its processes), the broker and the load process are sampled
throughout. Prints rich tables and writes bench/results/commands_load.json.

    uv run python bench/commands_load.py [--schools 200] [--teachers 5000]
        [--rate 100 300 1000] [--seconds 60] [--concurrency 64]
        [--urls entitlement=http://127.0.0.1:8001,catalogue=...,mentoring=...,reporting=...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform as host
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from cpd_events.types import ActivityType, CareerStage, Region, academic_year_of

RESULTS = Path(__file__).parent / "results"
SERVICES = ("entitlement", "catalogue", "mentoring", "reporting")
TODAY = date.today()
YEAR = academic_year_of(TODAY)
YEAR_START = date(int(YEAR[:4]), 9, 1)
TARGET_RATE = 1000  # commands/s
TARGET_FRESHNESS_P99_MS = 1000
TARGET_QUERY_P99_MS = 20
FRESHNESS_TIMEOUT_S = 10.0
#: Command kinds and their default weights (percent of commands).
DEFAULT_MIX = {
    "log_hours": 55,  # entitlement
    "request_cpd": 12,  # entitlement (reads the catalogue replica)
    "approve_cpd": 10,  # entitlement (teacher + budget streams in one transaction)
    "mentoring_session": 15,  # mentoring (entitlement logs hours for both from the event)
    "update_course": 6,  # catalogue
    "list_course": 2,  # catalogue
}
SERVICE_OF_KIND = {
    "log_hours": "entitlement",
    "request_cpd": "entitlement",
    "approve_cpd": "entitlement",
    "mentoring_session": "mentoring",
    "update_course": "catalogue",
    "list_course": "catalogue",
}
#: Every request carries an operator's bearer token (docs/security.md): the platform this
#: benchmark starts signs one; with --urls, CPD_TOKEN gives it. The load process inherits it
#: through the environment.
HEADERS = {"x-actor": "bench-load"}
if os.environ.get("CPD_TOKEN"):
    HEADERS["authorization"] = f"Bearer {os.environ['CPD_TOKEN']}"


def authorize(token: str) -> None:
    os.environ["CPD_TOKEN"] = token
    HEADERS["authorization"] = f"Bearer {token}"


console = Console()


# --- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Who is who, by index: the same numbering in the main process and the load process."""

    schools: int
    teachers: int
    schools_per_trust: int
    trust_share: float  # share of schools in a trust
    courses: int
    probes: int  # probe teachers: only the freshness probe's hours touch them
    tag: str  # distinguishes this world's ids from another run's against the same --urls

    def urn(self, k: int) -> str:
        return f"{300_000 + k:06d}"

    def trn(self, i: int) -> str:
        return f"{3_000_000 + i:07d}"

    def school_of(self, i: int) -> int:
        return i % self.schools

    @property
    def trusts(self) -> int:
        in_trusts = int(self.schools * self.trust_share)
        return in_trusts // self.schools_per_trust

    def trust_id(self, t: int) -> str:
        return str(90_000 + t)

    def trust_of(self, k: int) -> int | None:
        t = k // self.schools_per_trust
        return t if t < self.trusts else None

    def centralised(self, t: int) -> bool:
        return t % 2 == 1  # every other trust pays centrally; the rest delegate to schools

    # teachers 0..S-1 are mentors (one per school), S..2S-1 their mentees (ECTs), the last
    # ``probes`` the freshness probes, the rest ordinary teachers
    def mentor(self, k: int) -> int:
        return k

    def mentee(self, k: int) -> int:
        return self.schools + k

    @property
    def ordinary(self) -> range:
        return range(2 * self.schools, self.teachers - self.probes)

    @property
    def probe_teachers(self) -> range:
        return range(self.teachers - self.probes, self.teachers)

    def course_id(self, c: int) -> str:
        return f"bench-course-{c:03d}"

    def assignment_id(self, k: int) -> str:
        return f"asg-bench-{self.trn(self.mentor(k))}"


STAGES = [s for s in CareerStage if s not in (CareerStage.TRAINEE,)]
REGIONS = list(Region)


def school_body(w: World, k: int) -> dict[str, Any]:
    phase = "State-funded primary" if k % 4 else "State-funded secondary"
    return {
        "urn": w.urn(k),
        "name": f"Bench {phase.removeprefix('State-funded ')} school {k}",
        "local_authority": f"Bench LA {k % 20}",
        "phase": phase,
        "region": REGIONS[k % len(REGIONS)].value,
        "pupils_on_roll": 200 + (k * 37) % 1200,
        "fsm_percent": f"{(k * 7) % 60}.50",
        "pp50": k % 5 == 0,
    }


def teacher_body(w: World, i: int) -> dict[str, Any]:
    if w.schools <= i < 2 * w.schools:
        stage = CareerStage.ECT_YEAR_1.value  # mentees
    elif i < w.schools:
        stage = CareerStage.EXPERIENCED.value  # mentors
    else:
        stage = STAGES[i % len(STAGES)].value
    return {
        "trn": w.trn(i),
        "school_urn": w.urn(w.school_of(i)),
        "given_name": "Given",
        "family_name": f"Family{i}",
        "career_stage": stage,
        "fte": "100" if i % 5 else "60",
        "registered_on": "2024-09-01",
    }


def course_body(w: World, course_id: str, title: str) -> dict[str, Any]:
    return {
        "course_id": course_id,
        "provider_id": f"bench-provider-{w.tag}",
        "title": title,
        "kind": "other",
        "npq_type": None,
        "subjects": [],
        "phases": ["primary", "secondary"],
        "hours": "6",
        "price_pence": 500,
        "government_funded": False,
        "delivery_mode": "online",
        "evidence_summary": "",
    }


def day_in_year(rng: random.Random) -> str:
    return (YEAR_START + timedelta(days=rng.randrange((TODAY - YEAR_START).days + 1))).isoformat()


class Sender:
    """POSTs with bounded concurrency; anything but 201/409 is an error (409: there already)."""

    def __init__(self, urls: dict[str, str], concurrency: int = 16) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(
            timeout=60, headers=HEADERS, limits=httpx.Limits(max_connections=concurrency)
        )
        self.gate = asyncio.Semaphore(concurrency)
        self.counts: Counter[str] = Counter()

    async def post(self, service: str, path: str, body: dict[str, Any]) -> httpx.Response:
        async with self.gate:
            for attempt in range(5):
                response = await self.client.post(f"{self.urls[service]}{path}", json=body)
                if response.status_code in (201, 200, 409):
                    self.counts[str(response.status_code)] += 1
                    return response
                if response.status_code == 404 and attempt < 4:  # a replica not there yet
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                break
            raise RuntimeError(f"POST {service}{path} -> {response.status_code}: {response.text}")

    async def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{self.urls[service]}{path}", params=params or None)

    async def all(self, calls: Iterable[Awaitable[Any]]) -> None:
        await asyncio.gather(*calls)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 300) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise RuntimeError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def build_world(w: World, urls: dict[str, str]) -> dict[str, Any]:
    s = Sender(urls)
    steps: dict[str, float] = {}

    async def step(name: str, work: Awaitable[Any]) -> None:
        started = time.perf_counter()
        with console.status(f"world: {name}..."):
            await work
        steps[name] = round(time.perf_counter() - started, 2)
        console.print(f"  world: {name} [dim]{steps[name]:.1f} s[/dim]")

    async def catalogue() -> None:
        await s.post(
            "catalogue",
            "/providers",
            {"provider_id": f"bench-provider-{w.tag}", "name": "Bench provider", "kind": "other"},
        )
        await s.all(
            s.post("catalogue", "/courses", course_body(w, w.course_id(c), f"Bench course {c}"))
            for c in range(w.courses)
        )

    await step("catalogue provider and courses", catalogue())
    trusts = [
        s.post(
            "entitlement",
            "/trusts",
            {
                "trust_id": w.trust_id(t),
                "name": f"Bench trust {t}",
                "region": REGIONS[t % len(REGIONS)].value,
            },
        )
        for t in range(w.trusts)
    ]
    await step("trusts", s.all(trusts))
    models = [
        s.post(
            "entitlement",
            f"/trusts/{w.trust_id(t)}/funding-model",
            {
                "model": "centralised" if w.centralised(t) else "delegated",
                "effective_from": YEAR_START.isoformat(),
            },
        )
        for t in range(w.trusts)
    ]
    await step("trust funding models", s.all(models))
    await step(
        f"{w.schools} schools",
        s.all(s.post("entitlement", "/schools", school_body(w, k)) for k in range(w.schools)),
    )
    joins = []
    for k in range(w.schools):
        t = w.trust_of(k)
        if t is not None:
            joins.append(
                s.post(
                    "entitlement",
                    f"/schools/{w.urn(k)}/trust",
                    {"trust_id": w.trust_id(t), "effective_from": "2024-09-01"},
                )
            )
    await step(f"{len(joins)} schools join trusts", s.all(joins))
    budgets = [
        s.post(
            "entitlement",
            "/budgets",
            {
                "academic_year": YEAR,
                "holder": "school",
                "school_urn": w.urn(k),
                "amount_pence": 50_000_000,
            },
        )
        for k in range(w.schools)
    ] + [
        s.post(
            "entitlement",
            "/budgets",
            {
                "academic_year": YEAR,
                "holder": "trust",
                "trust_id": w.trust_id(t),
                "amount_pence": 200_000_000,
            },
        )
        for t in range(w.trusts)
        if w.centralised(t)
    ]
    await step("budgets", s.all(budgets))
    await step(
        f"{w.teachers:,} teachers",
        s.all(s.post("entitlement", "/teachers", teacher_body(w, i)) for i in range(w.teachers)),
    )

    async def no_policy() -> bool:
        return (await s.get("entitlement", "/policies", academic_year=YEAR)).status_code == 404

    if await no_policy():
        await step(
            "policy",
            s.post(
                "entitlement",
                "/policies",
                {
                    "academic_year": YEAR,
                    "minimum_hours": "35",
                    "base_funding_per_fte_pence": 60_000,
                    "pp50_uplift_percent": "20",
                    "early_career_uplift_percent": "10",
                    "effective_from": YEAR_START.isoformat(),
                },
            ),
        )

    async def granted() -> bool:  # the background grant run, seen at entitlement
        last = (await s.get("entitlement", f"/teachers/{w.trn(w.teachers - 1)}")).json()
        first = (await s.get("entitlement", f"/teachers/{w.trn(0)}")).json()
        return all(
            any(g["academic_year"] == YEAR for g in t.get("grants", [])) for t in (first, last)
        )

    await step("grants (background run)", until(granted, "grants"))

    async def mentoring_replica() -> bool:
        paths = [
            f"/teachers/{w.trn(w.mentee(w.schools - 1))}",
            f"/schools/{w.urn(w.schools - 1)}",
            f"/teachers/{w.trn(w.mentor(w.schools - 1))}",
        ]
        return all([(await s.get("mentoring", p)).status_code == 200 for p in paths])

    await step("registry at mentoring", until(mentoring_replica, "mentoring replica"))
    await step(
        f"{w.schools} mentors",
        s.all(
            s.post("mentoring", "/mentors", {"trn": w.trn(w.mentor(k)), "school_urn": w.urn(k)})
            for k in range(w.schools)
        ),
    )
    await step(
        f"{w.schools} mentorships",
        s.all(
            s.post(
                "mentoring",
                f"/mentors/{w.trn(w.mentor(k))}/assignments",
                {
                    "assignment_id": w.assignment_id(k),
                    "mentee_trn": w.trn(w.mentee(k)),
                    "school_urn": w.urn(k),
                    "programme": "early_career_induction",
                    "starts_on": YEAR_START.isoformat(),
                },
            )
            for k in range(w.schools)
        ),
    )

    async def courses_replicated() -> bool:
        last = w.course_id(w.courses - 1)
        return (await s.get("entitlement", f"/courses/{last}")).status_code == 200

    await step("courses at entitlement", until(courses_replicated, "catalogue replica"))
    await step("reporting caught up", wait_reporting(s, w))
    await s.client.aclose()
    return {"seconds": steps, "responses": dict(s.counts)}


async def wait_reporting(s: Sender, w: World, within: float = 600) -> None:
    async def ready() -> bool:
        nation = await s.get("reporting", "/areas/nation", academic_year=YEAR)
        if nation.status_code != 200:
            return False
        rollout = nation.json()["total"]["rollout"]
        return (
            rollout["teachers_granted"] >= w.teachers and await pipeline_lag(s.client, s.urls) == 0
        )

    await until(ready, "reporting", within)


async def pipeline_lag(client: httpx.AsyncClient, urls: dict[str, str]) -> int:
    """Events not yet through: the three relays' lag plus the live read models' lag."""
    return sum(v or 0 for v in (await lags(client, urls)).values())


async def lags(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, int | None]:
    """Each outbox relay's lag (events stored, not yet on the broker) and reporting's."""
    out: dict[str, int | None] = {}
    for service in ("entitlement", "catalogue", "mentoring"):
        out[f"{service}_relay"] = None
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            relay = (await client.get(f"{urls[service]}/admin/relay")).json()
            out[f"{service}_relay"] = int(relay.get("lag") or 0)
    out["reporting_read_models"] = await reporting_lag(client, urls)
    return out


async def reporting_lag(client: httpx.AsyncClient, urls: dict[str, str]) -> int | None:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        for g in (await client.get(f"{urls['reporting']}/admin/read-models")).json():
            if g["status"] == "live":
                return int(g["lag_events"]) if g["lag_events"] is not None else None
    return None


# --- a lean HTTP/1.1 client ------------------------------------------------------------------


class RawError(Exception):
    pass


@dataclass
class RawResponse:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class RawClient:
    """Keep-alive HTTP/1.1 over asyncio streams, a pool of ``connections``: for the load loop.

    httpx.AsyncClient (0.28, httpcore 1.0) costs ~4 ms of CPU a request at 64 in flight on this
    machine (~170 requests/s a core), so the load generator, not the platform, would saturate the
    two cores long before 1,000 commands/s; this costs a small fraction of that (``--client``).
    """

    def __init__(self, base_url: str, connections: int, timeout: float = 30) -> None:
        hostport = base_url.removeprefix("http://").rstrip("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port or 80)
        self.hostport = hostport
        self.size = connections
        self.timeout = timeout
        self.opened = 0
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.reopened = 0  # keep-alive connections the server had closed: retried once

    async def _acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while True:
            while self.idle:
                reader, writer, since = self.idle.pop()
                if time.monotonic() - since < 3.0 and not reader.at_eof():  # uvicorn: 5 s
                    return reader, writer
                writer.close()
                self.opened -= 1
            if self.opened < self.size:
                self.opened += 1
                try:
                    return await asyncio.open_connection(self.host, self.port)
                except BaseException:
                    self.opened -= 1
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    def _release(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        if conn is None:
            self.opened -= 1
        else:
            self.idle.append((conn[0], conn[1], time.monotonic()))
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> RawResponse:
        try:
            return await self._request(method, path, body, headers)
        except RawError as error:
            if not error.args[0].startswith("closed before"):
                raise
            self.reopened += 1  # nothing was read: the server had not taken the request
            return await self._request(method, path, body, headers)

    async def _request(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> RawResponse:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.hostport}\r\n"
        for k, v in {**HEADERS, **(headers or {})}.items():
            head += f"{k}: {v}\r\n"
        if body is not None:
            head += "content-type: application/json\r\n"
        head += f"content-length: {len(payload)}\r\n\r\n"
        conn = await self._acquire()
        keep: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            reader, writer = conn
            writer.write(head.encode() + payload)
            async with asyncio.timeout(self.timeout):
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                fields = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        fields[k.strip().lower()] = v.strip()
                if fields.get("transfer-encoding", "").lower() == "chunked":
                    content = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        content += chunk[:-2]
                else:
                    content = await reader.readexactly(int(fields.get("content-length", "0")))
            if fields.get("connection", "").lower() != "close":
                keep = conn
            else:
                writer.close()
            return RawResponse(status, content)
        except asyncio.IncompleteReadError as error:
            conn[1].close()
            if not error.partial:
                raise RawError("closed before a response") from error
            raise RawError(type(error).__name__) from error
        except (OSError, asyncio.LimitOverrunError, TimeoutError, ValueError, IndexError) as error:
            conn[1].close()
            raise RawError(type(error).__name__) from error
        finally:
            self._release(keep)

    async def post(self, path: str, json: Any = None) -> RawResponse:
        return await self.request("POST", path, json)

    async def get(self, path: str) -> RawResponse:
        return await self.request("GET", path)

    async def aclose(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


# --- the load process ------------------------------------------------------------------------


@dataclass
class LoadConfig:
    world: World
    urls: dict[str, str]
    rate: float
    seconds: float
    concurrency: int
    mix: dict[str, int]
    sample_every: int
    max_probes_per_s: float
    probe_interval: float
    seed: int
    run: str  # ids of this load phase
    client: str = "raw"  # raw (RawClient) or httpx


def load_process(config: LoadConfig, out: Any) -> None:
    """Entry point of the separate load process: runs the loop and sends back the results."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    out.put(asyncio.run(LoadRun(config).main()))


@dataclass
class LoadRun:
    c: LoadConfig
    records: list[tuple[str, int | str, float, float]] = field(default_factory=list)
    fresh: list[float] = field(default_factory=list)
    never_fresh: int = 0
    probe_failed: int = 0  # probe commands that were not accepted
    probe_gets: int = 0
    probe_get_errors: Counter[str] = field(default_factory=Counter)
    probes_skipped: int = 0  # sampled but no free probe teacher or over the probe rate cap
    pending_approvals: deque[tuple[str, str]] = field(default_factory=deque)
    approvals_without_request: int = 0
    hours_seen: dict[str, float] = field(default_factory=dict)

    async def main(self) -> dict[str, Any]:
        c, w = self.c, self.c.world
        self.clients: dict[str, Any]
        if c.client == "httpx":
            limits = httpx.Limits(
                max_connections=c.concurrency, max_keepalive_connections=c.concurrency
            )
            self.clients = {
                s: httpx.AsyncClient(base_url=c.urls[s], timeout=30, headers=HEADERS, limits=limits)
                for s in SERVICES
            }
            self.probe_client: Any = httpx.AsyncClient(
                base_url=c.urls["reporting"],
                timeout=30,
                headers=HEADERS,
                limits=httpx.Limits(max_connections=32),
            )
        else:
            self.clients = {s: RawClient(c.urls[s], c.concurrency) for s in SERVICES}
            self.probe_client = RawClient(c.urls["reporting"], 32)
        self.rng = random.Random(c.seed)
        kinds = list(c.mix)
        weights = [c.mix[k] for k in kinds]
        # each probe teacher's hours as reporting shows them now (probes only ever add to them)
        gate = asyncio.Semaphore(16)

        async def baseline(i: int) -> None:
            async with gate:
                hours = await self.record_hours(w.trn(i))
            if hours is not None:
                self.hours_seen[w.trn(i)] = hours

        await asyncio.gather(*(baseline(i) for i in w.probe_teachers))
        self.free_probes = deque(
            t for t in (w.trn(i) for i in w.probe_teachers) if t in self.hours_seen
        )
        gate = asyncio.Semaphore(c.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        probes: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        cpu0 = time.process_time()
        t0 = loop.time()
        end = t0 + c.seconds
        n = 0
        hours_n = 0
        probe_tokens = 0.0
        last = t0
        while True:
            now = loop.time()
            if now >= end:
                break
            probe_tokens = min(probe_tokens + (now - last) * c.max_probes_per_s, c.max_probes_per_s)
            last = now
            due = int((now - t0) * c.rate) + 1
            while n < due:
                scheduled = t0 + n / c.rate
                kind = self.rng.choices(kinds, weights)[0]
                probe = None
                if kind == "log_hours":
                    hours_n += 1
                    if hours_n % c.sample_every == 0:
                        if self.free_probes and probe_tokens >= 1:
                            probe = self.free_probes.popleft()
                            probe_tokens -= 1
                        else:
                            self.probes_skipped += 1
                task = asyncio.create_task(self.command(n, kind, scheduled, gate, probe, probes))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            await asyncio.sleep(max(0.0, t0 + n / c.rate - loop.time()))
        sent_window = loop.time() - t0
        outstanding_at_end = len(tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        elapsed = loop.time() - t0
        if probes:
            await asyncio.wait(probes, timeout=FRESHNESS_TIMEOUT_S + 5)
        cpu = time.process_time() - cpu0
        for client in (*self.clients.values(), self.probe_client):
            await client.aclose()
        return {
            "scheduled": n,
            "window_s": round(sent_window, 3),
            "elapsed_s": round(elapsed, 3),
            "outstanding_at_end": outstanding_at_end,
            "records": self.records,
            "freshness_ms": self.fresh,
            "never_fresh": self.never_fresh,
            "probe_commands_failed": self.probe_failed,
            "probes_skipped": self.probes_skipped,
            "probe_gets": self.probe_gets,
            "probe_get_errors": dict(self.probe_get_errors),
            "approvals_without_request": self.approvals_without_request,
            "load_process_cpu_s": round(cpu, 2),
            "reopened_connections": sum(getattr(c, "reopened", 0) for c in self.clients.values()),
        }

    def request_of(self, n: int, kind: str, probe: str | None) -> tuple[str, str, dict[str, Any]]:
        w, rng, run = self.c.world, self.rng, self.c.run
        ordinary = w.ordinary
        if kind == "approve_cpd":
            if self.pending_approvals:
                trn, request_id = self.pending_approvals.popleft()
                return (
                    "entitlement",
                    f"/teachers/{trn}/requests/{request_id}/approve",
                    {"approved_by": "CPD lead (bench)"},
                )
            self.approvals_without_request += 1
            kind = "request_cpd"
        if kind == "log_hours":
            trn = probe or w.trn(rng.choice(ordinary))
            return (
                "entitlement",
                f"/teachers/{trn}/hours",
                {
                    "log_id": f"lg-{run}-{n}",
                    "academic_year": YEAR,
                    "hours": "1",
                    "activity_type": rng.choice([a.value for a in ActivityType]),
                    "activity_date": day_in_year(rng),
                },
            )
        if kind == "request_cpd":
            trn = w.trn(rng.choice(ordinary))
            return (
                "entitlement",
                f"/teachers/{trn}/requests",
                {
                    "request_id": f"rq-{run}-{n}",
                    "course_id": w.course_id(rng.randrange(w.courses)),
                    "academic_year": YEAR,
                },
            )
        if kind == "mentoring_session":
            k = rng.randrange(w.schools)
            return (
                "mentoring",
                f"/mentors/{w.trn(w.mentor(k))}/sessions",
                {
                    "session_id": f"ss-{run}-{n}",
                    "assignment_id": w.assignment_id(k),
                    "held_on": day_in_year(rng),
                    "minutes": 30,
                    "focus": "Lesson planning",
                },
            )
        if kind == "update_course":
            c = rng.randrange(w.courses)
            return (
                "catalogue",
                f"/courses/{w.course_id(c)}/update",
                {"title": f"Bench course {c} rev {run}-{n}"},
            )
        if kind == "list_course":
            course_id = f"bc-{run}-{n}"
            return ("catalogue", "/courses", course_body(w, course_id, f"Listed {course_id}"))
        raise ValueError(kind)

    async def command(
        self,
        n: int,
        kind: str,
        scheduled: float,
        gate: asyncio.Semaphore,
        probe: str | None,
        probes: set[asyncio.Task[None]],
    ) -> None:
        service, path, body = self.request_of(n, kind, probe)
        if kind == "approve_cpd" and not path.endswith("/approve"):
            kind = "request_cpd"
        loop = asyncio.get_running_loop()
        async with gate:
            started = loop.time()
            try:
                response = await self.clients[service].post(path, json=body)
                status: int | str = response.status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            except RawError as error:
                status = str(error)
        done = loop.time()
        self.records.append((kind, status, (done - started) * 1000, (started - scheduled) * 1000))
        if kind == "request_cpd" and status == 201:
            self.pending_approvals.append((path.split("/")[2], body["request_id"]))
        if probe is not None:
            if status == 201:
                expected = self.hours_seen[probe] + float(body["hours"])
                task = asyncio.create_task(self.probe(probe, expected, done))
                probes.add(task)
                task.add_done_callback(probes.discard)
            else:
                self.probe_failed += 1
                self.free_probes.append(probe)

    async def record_hours(self, trn: str) -> float | None:
        self.probe_gets += 1
        try:
            response = await self.probe_client.get(f"/teachers/{trn}/record")
        except httpx.HTTPError as error:
            self.probe_get_errors[type(error).__name__] += 1
            return None
        except RawError as error:
            self.probe_get_errors[str(error)] += 1
            return None
        if response.status_code != 200:
            self.probe_get_errors[str(response.status_code)] += 1
            return None
        for year in response.json()["years"]:
            if year["academic_year"] == YEAR:
                return float(year["hours_logged"])
        return 0.0

    async def probe(self, trn: str, expected: float, accepted: float) -> None:
        loop = asyncio.get_running_loop()
        interval = self.c.probe_interval
        while True:
            hours = await self.record_hours(trn)
            now = loop.time()
            if hours is not None and hours >= expected - 1e-9:
                self.fresh.append((now - accepted) * 1000)
                self.hours_seen[trn] = hours
                self.free_probes.append(trn)
                return
            if now - accepted > FRESHNESS_TIMEOUT_S:
                self.never_fresh += 1
                return  # the teacher stays out of the pool: its expected hours are unknown
            await asyncio.sleep(interval)  # 50 ms, then backing off to 250 ms: polls cost
            interval = min(interval * 1.3, 0.25)


# --- sampling CPU and memory -----------------------------------------------------------------


@dataclass
class Sampler:
    """utime+stime and memory of each process group, every ``interval`` seconds, in a thread."""

    groups: dict[str, list[int]]  # name -> root pids (a group is a root and its children)
    interval: float = 0.5
    samples: list[tuple[float, dict[str, tuple[float, int, int]]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            groups = list(self.groups.items())  # the load process comes and goes
            self.samples.append((now, {g: self.measure(p) for g, p in groups}))
            self._stop.wait(self.interval)

    @staticmethod
    def measure(pids: list[int]) -> tuple[float, int, int]:
        """CPU seconds (reaped children included) and memory in bytes: VmRSS and VmHWM of a
        single process; for a group of processes (PostgreSQL: postmaster and backends sharing
        shared_buffers) the sum of their PSS, twice (summed RSS would count shared pages once a
        process)."""
        cpu, rss, hwm, pss = 0.0, 0, 0, 0
        group = False
        for pid in pids:
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            group = group or len(pids) > 1 or len(procs) > 1
            for i, proc in enumerate(procs):
                try:
                    t = proc.cpu_times()
                    cpu += t.user + t.system
                    if i == 0:
                        cpu += t.children_user + t.children_system
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    if len(procs) > 1 or len(pids) > 1:
                        for line in Path(f"/proc/{proc.pid}/smaps_rollup").read_text().splitlines():
                            if line.startswith("Pss:"):
                                pss += int(line.split()[1]) * 1024
                except (psutil.Error, OSError):
                    continue
                for line in status.splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1]) * 1024
        if group:
            return cpu, pss, pss
        return cpu, rss, hwm

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        out = {}
        for g in list(self.groups):
            inside = [s for s in self.samples if start <= s[0] <= end and g in s[1]]
            if len(inside) < 2:
                continue
            first, last = inside[0], inside[-1]
            wall = last[0] - first[0]
            cpu = last[1][g][0] - first[1][g][0]
            peak = 0.0
            for a, b in itertools.pairwise(inside):  # busiest sampling interval
                if b[0] - a[0] > 0:
                    peak = max(peak, (b[1][g][0] - a[1][g][0]) / (b[0] - a[0]))
            out[g] = {
                "cpu_cores": round(cpu / wall, 3),
                "cpu_cores_peak": round(peak, 3),
                "max_rss_mb": round(max(s[1][g][1] for s in inside) / 2**20, 1),
                "vmhwm_mb": round(last[1][g][2] / 2**20, 1),
            }
        return out


def system_busy() -> tuple[float, float]:
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def pid_listening(port: int) -> int | None:
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return int(conn.pid)
    return None


# --- statistics ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))], 2)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.50),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values), 2) if values else None,
    }


def analyse_load(result: dict[str, Any], rate: float, seconds: float) -> dict[str, Any]:
    records = result.pop("records")
    by_kind: dict[str, Any] = {}
    ok_total = 0
    statuses: Counter[str] = Counter()
    for kind in sorted({r[0] for r in records}):
        mine = [r for r in records if r[0] == kind]
        ok = [r[2] for r in mine if isinstance(r[1], int) and 200 <= r[1] < 300]
        codes = Counter(str(r[1]) for r in mine)
        statuses.update(codes)
        ok_total += len(ok)
        by_kind[kind] = {
            "service": SERVICE_OF_KIND[kind],
            "sent": len(mine),
            "ok": len(ok),
            "not_2xx": len(mine) - len(ok),
            "statuses": dict(codes),
            "latency_ok": summary(ok),
            "latency_all": summary([r[2] for r in mine]),
        }
    queued = [r[3] for r in records]
    fresh = result.pop("freshness_ms")
    done = len(records)
    return {
        "target_rate": rate,
        "seconds": seconds,
        "scheduled": result["scheduled"],
        "completed": done,
        "ok": ok_total,
        "not_2xx": done - ok_total,
        "statuses": dict(statuses),
        "achieved_per_s": round(done / result["elapsed_s"], 1),
        "ok_per_s": round(ok_total / result["elapsed_s"], 1),
        "latency_all_ok": summary([r[2] for r in records if isinstance(r[1], int) and r[1] < 300]),
        "queueing_before_send": summary(queued),
        "by_kind": by_kind,
        "freshness": {**summary(fresh), "never_visible_within_10s": result.pop("never_fresh")},
        **result,
    }


# --- queries ---------------------------------------------------------------------------------


async def queries(w: World, urls: dict[str, str], n: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(7)
    paths: dict[str, Callable[[], str]] = {
        "teacher_record": lambda: f"/teachers/{w.trn(rng.randrange(w.teachers))}/record",
        "school_dashboard": lambda: (
            f"/schools/{w.urn(rng.randrange(w.schools))}/dashboard?academic_year={YEAR}"
        ),
        "trust_dashboard": lambda: (
            f"/trusts/{w.trust_id(rng.randrange(max(1, w.trusts)))}/dashboard?academic_year={YEAR}"
        ),
        "national_summary": lambda: f"/areas/nation?academic_year={YEAR}",
    }
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=urls["reporting"], timeout=30, headers=HEADERS) as client:
        for name, path in paths.items():
            for _ in range(10):  # warm up the connection and the server's caches
                await client.get(path())
            for mode, workers in (("sequential", 1), (f"concurrency_{concurrency}", concurrency)):
                started = time.perf_counter()
                latencies, codes, sizes = await timed_gets(client, path, n, workers)
                wall = time.perf_counter() - started
                out.setdefault(name, {})[mode] = {
                    **summary(latencies),
                    "statuses": dict(codes),
                    "per_s": round(n / wall, 1),
                    "mean_bytes": round(sum(sizes) / len(sizes)) if sizes else None,
                }
    return out


async def timed_gets(
    client: httpx.AsyncClient, path: Callable[[], str], n: int, workers: int
) -> tuple[list[float], Counter[str], list[int]]:
    """``n`` GETs by ``workers`` at a time: latencies of the 200s, status counts, body sizes."""
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    sizes: list[int] = []
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            started = time.perf_counter()
            try:
                response = await client.get(path())
                code = str(response.status_code)
                sizes.append(len(response.content))
            except httpx.HTTPError as error:
                code = type(error).__name__
            codes[code] += 1
            if code == "200":
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return latencies, codes, sizes


# --- the run ---------------------------------------------------------------------------------


def parse_urls(text: str) -> dict[str, str]:
    urls = dict(part.split("=", 1) for part in text.split(","))
    missing = set(SERVICES) - set(urls)
    if missing:
        raise SystemExit(f"--urls needs {', '.join(sorted(missing))}")
    return {k: v.rstrip("/") for k, v in urls.items()}


def parse_mix(text: str | None) -> dict[str, int]:
    if not text:
        return dict(DEFAULT_MIX)
    mix = {k: int(v) for k, v in (p.split("=") for p in text.split(","))}
    unknown = set(mix) - set(DEFAULT_MIX)
    if unknown:
        raise SystemExit(f"unknown command kinds in --mix: {sorted(unknown)}")
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--teachers", type=int, default=5000)
    parser.add_argument("--schools-per-trust", type=int, default=5)
    parser.add_argument(
        "--trust-share", type=float, default=0.5, help="share of schools in a trust"
    )
    parser.add_argument("--courses", type=int, default=50)
    parser.add_argument("--probes", type=int, default=400, help="probe teachers for freshness")
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[100, 300, 1000],
        help="target commands/s; one load phase per rate, in order",
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=64, help="commands in flight at most")
    parser.add_argument(
        "--mix",
        help="kind=weight,... (default: {})".format(
            ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items())
        ),
    )
    parser.add_argument(
        "--sample-every",
        type=int,
        default=10,
        help="one hours-logged command in N is a freshness probe",
    )
    parser.add_argument(
        "--max-probes-per-s",
        type=float,
        default=10,
        help="cap on probes a second (each polls the teacher record)",
    )
    parser.add_argument("--probe-interval", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--queries", type=int, default=500, help="GETs per query kind and mode")
    parser.add_argument("--query-concurrency", type=int, default=4)
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="HTTP client of the load process (see RawClient)",
    )
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--urls", help="use a running platform: entitlement=URL,catalogue=URL,...")
    parser.add_argument("--keep", action="store_true", help="leave the platform's home in place")
    parser.add_argument("--out", type=Path, default=RESULTS / "commands_load.json")
    args = parser.parse_args()
    mix = parse_mix(args.mix)
    if args.teachers < 2 * args.schools + args.probes + 10:
        raise SystemExit("--teachers must exceed 2 x --schools + --probes")

    platform = None
    home = None
    infra: dict[str, Any] = {}
    if args.urls:
        urls = parse_urls(args.urls)
        infra["platform"] = "--urls (already running)"
        if "authorization" not in HEADERS:
            raise SystemExit("--urls needs an operator token in CPD_TOKEN (cpd token)")
    else:
        from cpd_platform.embedded import free_port
        from cpd_platform.launcher import Platform

        home = Path(tempfile.mkdtemp(prefix="cpd-bench-load-"))
        platform = Platform(
            home=home,
            ports={s: free_port() for s in SERVICES},
            postgres_port=free_port(),
            broker_port=free_port(),
            partitions=args.partitions,
            service_env={
                "CPD_CONSUMER_SESSION_TIMEOUT_MS": "4000",
                "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
            },
        )
        urls = {s: platform.url(s) for s in SERVICES}
        infra["platform"] = f"own processes in {home}"
    sampler = None
    try:
        if platform is not None:
            started = time.perf_counter()
            with console.status("starting PostgreSQL, the broker and the four services..."):
                platform.start_infrastructure()
                asyncio.run(platform.prepare())
                platform.start_services()
                asyncio.run(platform.wait_healthy(180))
            authorize(platform.token("operator", subject="operator:bench-load"))
            infra["start_s"] = round(time.perf_counter() - started, 1)
            console.print(f"platform up in {infra['start_s']} s: {urls}")
        groups = find_processes(platform, urls)
        infra["processes"] = {g: p for g, p in groups.items()}
        world = World(
            args.schools,
            args.teachers,
            args.schools_per_trust,
            args.trust_share,
            args.courses,
            args.probes,
            tag=uuid.uuid4().hex[:6],
        )
        sampler = Sampler(groups)
        sampler.start()
        t_world = time.monotonic()
        world_setup = asyncio.run(build_world(world, urls))
        infra["world_s"] = round(time.monotonic() - t_world, 1)
        phases = []
        for index, rate in enumerate(args.rate):
            phases.append(load_phase(args, world, urls, rate, mix, sampler, index))
        console.print(
            f"queries: {args.queries} each, sequential and {args.query_concurrency} at a time"
        )
        q_start = time.monotonic()
        query_figures = asyncio.run(queries(world, urls, args.queries, args.query_concurrency))
        query_resources = sampler.window(q_start, time.monotonic())
        data_size = asyncio.run(read_model_size(urls))
        sampler.stop()
        peak = {
            g: round(max(s[1][g][2] for s in sampler.samples if g in s[1]) / 2**20, 1)
            for g in groups
        }
        peak_rss = {
            g: round(max(s[1][g][1] for s in sampler.samples if g in s[1]) / 2**20, 1)
            for g in groups
        }
        result = {
            "benchmark": "commands_load",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": host.platform(),
                "processor": host.processor() or host.machine(),
                "cpus": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 2**30),
            },
            "versions": {
                "python": host.python_version(),
                **{p: version(p) for p in ("httpx", "uvicorn", "fastapi", "asyncpg", "aiokafka")},
            },
            "infrastructure": infra,
            "dataset": {
                "schools": world.schools,
                "trusts": world.trusts,
                "schools_in_trusts": world.trusts * world.schools_per_trust,
                "teachers": world.teachers,
                "mentorships": world.schools,
                "probe_teachers": world.probes,
                "bench_courses": world.courses,
                "academic_year": YEAR,
                "reporting_after_run": data_size,
            },
            "world_setup": world_setup,
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "mix_percent": mix,
            "load": phases,
            "queries": query_figures,
            "queries_resources": query_resources,
            "peak_vmhwm_mb": peak,
            "peak_rss_mb": peak_rss,
        }
        result["targets"] = targets(result)
        report(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {args.out}")
    finally:
        if sampler is not None and not sampler._stop.is_set():
            sampler.stop()
        if platform is not None:
            with console.status("stopping the platform..."):
                platform.stop()
            if home is not None and not args.keep:
                shutil.rmtree(home, ignore_errors=True)


def find_processes(platform: Any, urls: dict[str, str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for s in SERVICES:
        if platform is not None and s in platform.processes:
            groups[s] = [platform.processes[s].pid]
        else:
            pid = pid_listening(int(urls[s].rsplit(":", 1)[1]))
            if pid:
                groups[s] = [pid]
    if platform is not None and platform.postgres is not None:
        pidfile = platform.postgres.data_dir / "postmaster.pid"
        groups["postgres"] = [int(pidfile.read_text().split()[0])]
    elif platform is None:  # a running platform: the postmaster(s) and broker on this machine
        masters = [
            p.pid
            for p in psutil.process_iter(["name"])
            if p.info["name"] == "postgres" and psutil.Process(p.pid).parent().name() != "postgres"
        ]
        if masters:
            groups["postgres"] = masters
    if platform is not None and platform.broker is not None and platform.broker.process:
        groups["broker"] = [platform.broker.process.pid]
    elif platform is None:
        tansu = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "tansu"]
        if tansu:
            groups["broker"] = tansu
    return groups


def load_phase(
    args: argparse.Namespace,
    world: World,
    urls: dict[str, str],
    rate: float,
    mix: dict[str, int],
    sampler: Sampler,
    index: int,
) -> dict[str, Any]:
    config = LoadConfig(
        world=world,
        urls=urls,
        rate=rate,
        seconds=args.seconds,
        concurrency=args.concurrency,
        mix=mix,
        sample_every=args.sample_every,
        max_probes_per_s=args.max_probes_per_s,
        probe_interval=args.probe_interval,
        seed=1000 + index,
        run=f"{world.tag}{index}",
        client=args.client,
    )
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=load_process, args=(config, out), name="bench-load")
    console.print(
        f"[bold]load {rate:,.0f} commands/s for {args.seconds:.0f} s[/bold]"
        f" (concurrency {args.concurrency}, a separate process)"
    )
    proc.start()
    sampler.groups["load_process"] = [proc.pid or 0]
    lag_samples: list[tuple[float, dict[str, int | None]]] = []
    stop = threading.Event()

    def watch_lag() -> None:  # relay and read-model lag every 2 s, from this process
        async def run() -> None:
            async with httpx.AsyncClient(timeout=10, headers=HEADERS) as client:
                while not stop.is_set():
                    t = time.monotonic()
                    lag_samples.append((t, await lags(client, urls)))
                    await asyncio.sleep(2)

        asyncio.run(run())

    watcher = threading.Thread(target=watch_lag, daemon=True)
    busy0, total0 = system_busy()
    started = time.monotonic()
    watcher.start()
    with console.status(f"loading at {rate:,.0f}/s..."):
        result = out.get()
    load_end = time.monotonic()
    busy1, total1 = system_busy()
    proc.join(30)
    stop.set()
    watcher.join()
    resources = sampler.window(started, load_end)
    sampler.groups.pop("load_process", None)
    # after the load: how long until everything sent is through the relays and the read models
    drain_start = time.monotonic()

    async def drained() -> float:
        async with httpx.AsyncClient(timeout=10, headers=HEADERS) as client:

            async def zero() -> bool:
                return await pipeline_lag(client, urls) == 0

            return await until(zero, "drain", 600)

    drain = asyncio.run(drained())
    figures = analyse_load(result, rate, args.seconds)
    figures["resources"] = resources
    figures["system_cpu_busy_cores"] = round(
        (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1), 2
    )
    figures["other_processes_cpu_cores"] = round(  # not ours: other work on this machine
        figures["system_cpu_busy_cores"] - sum(g["cpu_cores"] for g in resources.values()), 2
    )
    figures["lag_during_load_max"] = {
        k: max((v for _, s in lag_samples if (v := s.get(k)) is not None), default=None)
        for k in (lag_samples[0][1] if lag_samples else {})
    }
    figures["lag_during_load"] = [{"t": round(t - started, 1), **s} for t, s in lag_samples]
    figures["drain_after_load_s"] = round(drain, 1)
    figures["drain_measured_from_s"] = round(drain_start - load_end, 1)
    short(figures)
    return figures


async def read_model_size(urls: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, headers=HEADERS) as client:
        nation = (
            await client.get(f"{urls['reporting']}/areas/nation", params={"academic_year": YEAR})
        ).json()
        rollout = nation["total"]["rollout"]
        published = {}
        for service in ("entitlement", "catalogue", "mentoring"):
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                published[service] = (await client.get(f"{urls[service]}/admin/relay")).json()[
                    "published"
                ]
    return {
        "nation_rollout": rollout,
        "events_published": published,
        "events_total": sum(published.values()),
    }


# --- output ----------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def short(f: dict[str, Any]) -> None:
    fresh = f["freshness"]
    console.print(
        f"  {f['achieved_per_s']:,.0f}/s achieved ({f['ok_per_s']:,.0f}/s 2xx) of"
        f" {f['target_rate']:,.0f}; not 2xx {f['not_2xx']}; p50/p99"
        f" {ms(f['latency_all_ok']['p50_ms'])}/{ms(f['latency_all_ok']['p99_ms'])} ms;"
        f" freshness p50/p99 {ms(fresh['p50_ms'])}/{ms(fresh['p99_ms'])} ms"
        f" (n={fresh['n']}, never {fresh['never_visible_within_10s']});"
        f" drained {f['drain_after_load_s']} s after"
    )
    console.print(
        f"  max lag during load (events): {f['lag_during_load_max']};"
        f" load process {f['load_process_cpu_s']} s CPU; other processes on this"
        f" machine {f['other_processes_cpu_cores']} cores"
    )


def targets(r: dict[str, Any]) -> dict[str, Any]:
    at_target = [p for p in r["load"] if p["target_rate"] >= TARGET_RATE]
    best = max(r["load"], key=lambda p: p["ok_per_s"])
    out: dict[str, Any] = {
        "commands_1000_per_s": {
            "target": f">= {TARGET_RATE}/s, all 2xx",
            "best_ok_per_s": best["ok_per_s"],
            "pass": any(
                p["ok_per_s"] >= 0.98 * TARGET_RATE and p["not_2xx"] == 0 for p in at_target
            ),
        },
        "freshness_p99_lt_1s": {
            "target": f"p99 < {TARGET_FRESHNESS_P99_MS} ms at {TARGET_RATE}/s",
            "pass": bool(at_target)
            and all(
                p["freshness"]["p99_ms"] is not None
                and p["freshness"]["p99_ms"] < TARGET_FRESHNESS_P99_MS
                and p["freshness"]["never_visible_within_10s"] == 0
                for p in at_target
            ),
        },
    }
    for name, q in r["queries"].items():
        worst = max((m["p99_ms"] or 1e9) for m in q.values())
        out[f"{name}_p99_lt_20ms"] = {"worst_p99_ms": worst, "pass": worst < TARGET_QUERY_P99_MS}
    return out


def yes(flag: bool) -> str:
    return "[green]pass[/green]" if flag else "[red]FAIL[/red]"


def report(r: dict[str, Any]) -> None:
    d = r["dataset"]
    console.print(
        f"\n[bold]commands under load[/bold]: {d['schools']} schools ({d['schools_in_trusts']} in"
        f" {d['trusts']} trusts), {d['teachers']:,} teachers, {d['mentorships']} mentorships;"
        f" {r['machine']['cpus']} CPUs; year {d['academic_year']}"
    )
    t = Table(title="load phases (open loop, separate process)")
    for col in (
        "target/s",
        "achieved/s",
        "2xx/s",
        "not 2xx",
        "p50 ms",
        "p99 ms",
        "queued p99 ms",
        "fresh p50",
        "fresh p99",
        "fresh max",
        "never",
        "drain s",
        "busy cores",
    ):
        t.add_column(col, justify="right")
    for p in r["load"]:
        f = p["freshness"]
        t.add_row(
            f"{p['target_rate']:,.0f}",
            f"{p['achieved_per_s']:,.0f}",
            f"{p['ok_per_s']:,.0f}",
            str(p["not_2xx"]),
            ms(p["latency_all_ok"]["p50_ms"]),
            ms(p["latency_all_ok"]["p99_ms"]),
            ms(p["queueing_before_send"]["p99_ms"]),
            ms(f["p50_ms"]),
            ms(f["p99_ms"]),
            ms(f["max_ms"]),
            str(f["never_visible_within_10s"]),
            str(p["drain_after_load_s"]),
            str(p["system_cpu_busy_cores"]),
        )
    console.print(t)
    t = Table(title="per command kind (2xx latency) and statuses")
    t.add_column("rate")
    t.add_column("kind")
    for col in ("sent", "p50 ms", "p99 ms", "max ms"):
        t.add_column(col, justify="right")
    t.add_column("statuses")
    for p in r["load"]:
        for kind, k in p["by_kind"].items():
            lat = k["latency_ok"]
            t.add_row(
                f"{p['target_rate']:,.0f}",
                f"{kind} ({k['service']})",
                str(k["sent"]),
                ms(lat["p50_ms"]),
                ms(lat["p99_ms"]),
                ms(lat["max_ms"]),
                " ".join(f"{c}:{n}" for c, n in sorted(k["statuses"].items())),
            )
    console.print(t)
    t = Table(title="CPU (cores, mean over the load phase / busiest 0.5 s) and memory")
    t.add_column("process")
    for p in r["load"]:
        t.add_column(f"{p['target_rate']:,.0f}/s cores", justify="right")
    t.add_column("peak VmHWM MB", justify="right")
    t.add_column("peak RSS MB", justify="right")
    names = sorted({g for p in r["load"] for g in p["resources"]})
    for g in names:
        cells = []
        for p in r["load"]:
            res = p["resources"].get(g)
            cells.append(f"{res['cpu_cores']:.2f} / {res['cpu_cores_peak']:.2f}" if res else "-")
        hwm = r["peak_vmhwm_mb"].get(g)
        if g == "load_process":
            hwm = max(
                (p["resources"][g]["vmhwm_mb"] for p in r["load"] if g in p["resources"]),
                default=None,
            )
        t.add_row(
            g,
            *cells,
            "-" if hwm is None else f"{hwm:,.0f}",
            f"{r['peak_rss_mb'].get(g, 0):,.0f}" if g in r["peak_rss_mb"] else "-",
        )
    console.print(t)
    t = Table(title=f"queries ({r['settings']['queries']} each, read models after the load)")
    for col in ("query", "mode", "p50 ms", "p99 ms", "max ms", "per s", "bytes", "statuses"):
        t.add_column(col, justify="right" if col not in ("query", "mode", "statuses") else "left")
    for name, modes in r["queries"].items():
        for mode, q in modes.items():
            t.add_row(
                name,
                mode,
                ms(q["p50_ms"]),
                ms(q["p99_ms"]),
                ms(q["max_ms"]),
                f"{q['per_s']:,.0f}",
                str(q["mean_bytes"]),
                " ".join(f"{c}:{n}" for c, n in q["statuses"].items()),
            )
    console.print(t)
    t = Table(title="targets")
    t.add_column("target")
    t.add_column("figure", justify="right")
    t.add_column("result")
    for name, target in r["targets"].items():
        figure = target.get("best_ok_per_s", target.get("worst_p99_ms", ""))
        if name.startswith("freshness"):
            at = [p for p in r["load"] if p["target_rate"] >= TARGET_RATE]
            figure = at[0]["freshness"]["p99_ms"] if at else "-"
        t.add_row(name, str(figure), yes(target["pass"]))
    console.print(t)


if __name__ == "__main__":
    main()
