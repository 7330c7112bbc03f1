"""Generations of the read models on a real broker: live updates, a rebuild switched without a
failed read, as-of snapshots, the consistency check, and poison events isolated in a batch."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

import reporting.generations as generations_module
from cpd_events import Envelope, Event
from cpd_events.entitlement_events import CPDApproved, EntitlementGranted, HoursLogged
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, hours
from cpd_eventstore import list_dead_letters, migrate
from cpd_eventstore.db import Pool
from cpd_eventstore.kafka import ensure_topics, make_producer
from cpd_platform.testing import Infrastructure, Record, eventually, record_of
from reporting.generations import (
    META_MIGRATIONS,
    EngineSettings,
    Generations,
    consistency_check,
    create_generation,
    list_generations,
)
from reporting.queries import teacher_record
from reporting.reading import ReadModelUnavailable, read_model
from reporting.testing import apply_records, live_generation

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHOOL, YEAR = "100001", "2025/26"


class World:
    """Numbers events per stream as the stores would, stamped with when they were recorded."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = defaultdict(int)

    def envelope(self, stream_id: str, event: Event, at: datetime) -> Envelope:
        self.versions[stream_id] += 1
        return Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream_id,
            stream_version=self.versions[stream_id],
            occurred_at=at,
            recorded_at=at,
            correlation_id="c",
            actor="test",
            data=event.model_dump(mode="json"),
        )


def teacher(trn: str) -> TeacherRegistered:
    return TeacherRegistered(
        trn=trn,
        school_urn=SCHOOL,
        given_name="Ada",
        family_name="Lovelace",
        career_stage=CareerStage.EXPERIENCED,
        fte=Decimal(100),
        registered_on=date(2025, 9, 1),
    )


def logged(trn: str, log_id: str, amount: str, on: date) -> HoursLogged:
    return HoursLogged(
        log_id=log_id,
        trn=trn,
        school_urn=SCHOOL,
        academic_year=YEAR,
        hours=hours(amount),
        activity_type=ActivityType.COURSE,
        activity_date=on,
    )


async def produce(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    producer = make_producer(bootstrap, "test")
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send(
                topic, envelope.model_dump_json().encode(), key=envelope.stream_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture
async def topic(infra: Infrastructure) -> str:
    name = f"test.reporting.{uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap_servers, [name], 3)
    return name


@pytest.fixture
async def generations(pool: Pool, infra: Infrastructure, topic: str) -> AsyncIterator[Generations]:
    await migrate(pool, "reporting_meta", META_MIGRATIONS)
    settings = EngineSettings(
        infra.bootstrap_servers,
        [topic],
        batch_size=200,
        session_timeout_ms=4000,
        heartbeat_interval_ms=500,
    )
    supervisor = Generations(pool, settings, poll_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    yield supervisor
    stop.set()
    await task


async def hours_of(pool: Pool, trn: str, as_of: date | None = None) -> Decimal | None:
    async with read_model(pool, as_of) as conn:
        record = await teacher_record(conn, trn)
    if record is None or not record.years:
        return None
    return record.years[0].hours_logged


async def hours_once_live(pool: Pool, trn: str) -> Decimal | None:
    """Hours of ``trn``, or ``None`` while no generation is live yet (the first build)."""
    try:
        return await hours_of(pool, trn)
    except ReadModelUnavailable:
        return None


async def test_a_rebuild_goes_live_without_a_failed_read_and_equals_the_live_one(
    pool: Pool,
    infra: Infrastructure,
    topic: str,
    generations: Generations,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    autumn = datetime(2025, 10, 1, 9, tzinfo=UTC)
    spring = datetime(2026, 2, 1, 9, tzinfo=UTC)
    school = SchoolRegistered(
        urn=SCHOOL, name="Leeds Primary", local_authority="Leeds", phase="Primary"
    )
    trns = [f"{1_000_000 + i}" for i in range(40)]
    autumn_events = [world.envelope(f"school-{SCHOOL}", school, autumn)]
    for trn in trns:
        autumn_events.append(world.envelope(f"teacher-{trn}", teacher(trn), autumn))
        autumn_events.append(
            world.envelope(f"teacher-{trn}", logged(trn, "a", "2", autumn.date()), autumn)
        )
    await produce(infra.bootstrap_servers, topic, autumn_events)

    # first start: a generation is built and goes live by itself
    await eventually(
        lambda: hours_once_live(pool, trns[-1]), until=lambda h: h == Decimal("2.00"), within=60
    )
    [first] = await list_generations(pool)
    assert first.status == "live"

    # live updates, after the switch
    spring_events = [
        world.envelope(f"teacher-{trn}", logged(trn, "b", "3", spring.date()), spring)
        for trn in trns
    ]
    await produce(infra.bootstrap_servers, topic, spring_events)
    await eventually(
        lambda: hours_of(pool, trns[-1]), until=lambda h: h == Decimal("5.00"), within=30
    )

    # a rebuild, while a reader reads all the time: never a failed or different answer
    failures: list[str] = []
    answers: set[Decimal | None] = set()
    stop_reading = asyncio.Event()

    async def read_all_the_time() -> None:
        while not stop_reading.is_set():
            try:
                answers.add(await hours_of(pool, trns[0]))
            except ReadModelUnavailable as error:
                failures.append(repr(error))
            await asyncio.sleep(0.005)

    reader = asyncio.create_task(read_all_the_time())
    rebuilt = await create_generation(pool)

    async def live_generation_number() -> int | None:
        live = [g for g in await list_generations(pool) if g.status == "live"]
        return live[0].generation if live else None

    await eventually(live_generation_number, until=lambda n: n == rebuilt.generation, within=60)
    await asyncio.sleep(0.3)
    stop_reading.set()
    await reader
    assert failures == []
    assert answers == {Decimal("5.00")}
    # the old generation is dropped once retired (and its queries had time to finish)
    monkeypatch.setattr(generations_module, "DROP_AFTER", timedelta(0))
    await eventually(
        lambda: pool.fetchval(
            "select count(*) from information_schema.schemata where schema_name = $1",
            first.schema_name,
        ),
        until=lambda n: n == 0,
        within=10,
    )

    # a clean rebuild equals the live read models, table by table
    checks = await consistency_check(pool, generations.settings, within_s=60)
    assert [c.table for c in checks if not c.equal] == []
    assert any(c.table == "hours_log" and c.live_rows == 80 for c in checks)

    # as-of: the read models as they stood at the end of a past day
    snapshot = await create_generation(pool, status="snapshot-building", as_of=date(2025, 12, 31))

    async def snapshot_ready() -> str | None:
        found = [g for g in await list_generations(pool) if g.generation == snapshot.generation]
        return found[0].status if found else None

    await eventually(snapshot_ready, until=lambda s: s == "snapshot", within=60)
    assert await hours_of(pool, trns[0], as_of=date(2025, 12, 31)) == Decimal("2.00")
    assert await hours_of(pool, trns[0]) == Decimal("5.00")
    with pytest.raises(ReadModelUnavailable, match="no snapshot"):
        await hours_of(pool, trns[0], as_of=date(2025, 11, 30))


async def test_a_poison_event_waits_alone_with_its_stream(pool: Pool) -> None:
    """A batch with an event that cannot apply: bisection isolates it; its stream's later
    events park behind it; every other stream is applied; a discard lets the stream flow."""
    generation = await live_generation(pool)
    world = World()
    at = datetime(2025, 10, 1, 9, tzinfo=UTC)
    envelopes = [
        world.envelope(
            f"school-{SCHOOL}",
            SchoolRegistered(urn=SCHOOL, name="S", local_authority="Leeds", phase="Primary"),
            at,
        )
    ]
    for i in range(30):
        trn = f"{2_000_000 + i}"
        envelopes.append(world.envelope(f"teacher-{trn}", teacher(trn), at))
        if i == 17:  # approves a request the teacher never made: cannot apply
            poison = CPDApproved(
                request_id="ghost", trn=trn, school_urn=SCHOOL, approved_by="x", cost_pence=100
            )
            envelopes.append(world.envelope(f"teacher-{trn}", poison, at))
        envelopes.append(world.envelope(f"teacher-{trn}", logged(trn, "l", "1", at.date()), at))
        envelopes.append(
            world.envelope(
                f"teacher-{trn}",
                EntitlementGranted(
                    trn=trn,
                    school_urn=SCHOOL,
                    academic_year=YEAR,
                    policy_version=1,
                    hours=hours("35"),
                    funding_pence=1000,
                ),
                at,
            )
        )
    # bad bytes too: they are dead-lettered without a stream
    records: list[Record] = [record_of(e, offset) for offset, e in enumerate(envelopes)]
    records.append(Record(b"\x00 not an envelope", offset=len(records)))

    progress = await apply_records(pool, generation, records)

    assert (progress.applied, progress.failed, progress.parked) == (len(envelopes) - 3, 2, 2)
    letters = await list_dead_letters(pool, generation.group_id)
    assert sorted(d.status for d in letters) == ["failed", "failed", "parked", "parked"]
    async with read_model(pool) as conn:
        applied = await conn.fetchval("select count(*) from hours_log")
    assert applied == 29
    assert await hours_of(pool, "2000017") is None  # waiting behind the poison
    assert await hours_of(pool, "2000018") == Decimal("1.00")

    # the operator gives up on the poison: the stream's parked events apply, in order
    from reporting.testing import engine_of

    engine = engine_of(pool, generation)
    [poisoned] = [d for d in letters if d.status == "failed" and d.stream_id is not None]
    outcome, error = await engine.retry(poisoned.id)  # not fixed: it fails again, stays failed
    assert outcome.failed == 1
    assert error is not None
    assert "no request ghost" in error
    discarded = await engine.discard(poisoned.id, "approval of a request that never existed")
    assert discarded.applied == 2
    assert await hours_of(pool, "2000017") == Decimal("1.00")
    # a redelivery of the whole batch changes nothing
    again = await apply_records(pool, generation, records[:-1])
    assert (again.applied, again.duplicates) == (0, len(envelopes))
