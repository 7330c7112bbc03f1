"""The grant run against the real event store: every active teacher once, idempotent, resumable
after a crash; a mid-year registration is granted pro rata in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Envelope, Event, Metadata, NewEvent
from cpd_events.entitlement_events import EntitlementPolicyPublished
from cpd_events.registry_events import (
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherRegistered,
)
from cpd_events.types import CareerStage
from cpd_eventstore import ANY_VERSION, EventStore, StreamWrite
from cpd_eventstore.db import Connection, Pool
from entitlement.app import Entitlement
from entitlement.domain.policy import policy_stream
from entitlement.domain.registry import school_stream
from entitlement.domain.teacher import teacher_stream
from entitlement.grants import GrantRun, grant_event_id, grant_year

pytestmark = pytest.mark.integration

META = Metadata(actor="test")
YEAR = "2025/26"


class CrashingStore(EventStore):
    """The real store, failing its ``crash_on``-th append (a process dying half-way)."""

    def __init__(self, pool: Pool, crash_on: int) -> None:
        super().__init__(pool)
        self.appends = 0
        self.crash_on = crash_on

    async def append_many(
        self,
        writes: Sequence[StreamWrite],
        metadata: Metadata,
        connection: Connection | None = None,
    ) -> list[Envelope]:
        self.appends += 1
        if self.appends == self.crash_on:
            raise RuntimeError("the process died")
        return await super().append_many(writes, metadata, connection)


async def put(store: EventStore, stream_id: str, *events: Event) -> None:
    await store.append(stream_id, ANY_VERSION, [NewEvent(event=e) for e in events], META)


def registered(n: int, registered_on: date = date(2025, 9, 1)) -> TeacherRegistered:
    return TeacherRegistered(
        trn=f"{2_000_000 + n:07d}",
        school_urn=f"{100_000 + n % 3:06d}",
        given_name="A",
        family_name="B",
        career_stage=CareerStage.EXPERIENCED,
        fte=Decimal(100),
        registered_on=registered_on,
    )


def published(version: int = 1, base: int = 60_000) -> EntitlementPolicyPublished:
    return EntitlementPolicyPublished(
        academic_year=YEAR,
        policy_version=version,
        minimum_hours=Decimal(35),
        base_funding_per_fte_pence=base,
        pp50_uplift_percent=Decimal(50),
        early_career_uplift_percent=Decimal(0),
        effective_from=date(2025, 9, 1),
    )


async def seed(store: EventStore) -> None:
    """3 schools (100000 is PP50) and 25 teachers: 2000000 left the profession, 2000001
    registered mid-year, 2000002 after the year."""
    for k in range(3):
        await put(
            store,
            school_stream(f"{100_000 + k:06d}"),
            SchoolRegistered(
                urn=f"{100_000 + k:06d}", name="S", local_authority="201", phase="P", pp50=k == 0
            ),
        )
    days = {1: date(2026, 3, 1), 2: date(2026, 9, 5)}
    writes = [
        StreamWrite(
            teacher_stream(registered(n).trn),
            0,
            [NewEvent(event=registered(n, days.get(n, date(2025, 9, 1))))],
        )
        for n in range(25)
    ]
    await store.append_many(writes, META)
    left = TeacherLeftProfession(trn="2000000", school_urn="100000", left_on=date(2025, 8, 1))
    await put(store, teacher_stream("2000000"), left)


async def grants_stored(pool: Pool, version: int) -> int:
    count = await pool.fetchval(
        "select count(*) from es.events where event_type = 'EntitlementGranted'"
        " and (data->>'policy_version')::int = $1",
        version,
    )
    return int(count)


async def test_granting_a_year_twice_appends_nothing_the_second_time(pool: Pool) -> None:
    store = EventStore(pool)
    await seed(store)
    await put(store, policy_stream(YEAR), published())
    seen: list[int] = []

    def progress(run: GrantRun) -> None:
        seen.append(run.teachers)

    first = await grant_year(store, YEAR, META, chunk_size=4, workers=3, progress=progress)

    assert (first.total, first.teachers, first.granted, first.already_granted) == (25, 25, 23, 0)
    assert (first.not_eligible, first.chunks) == (2, 7)
    assert seen[0] == 0
    assert seen[-1] == 25
    assert seen == sorted(seen)
    [granted] = [
        e for e in await store.read_stream(teacher_stream("2000003")) if e.stream_version == 2
    ]
    assert granted.event_id == grant_event_id("2000003", YEAR, 1)
    assert (granted.data["funding_pence"], granted.data["pro_rata_percent"]) == (90_000, "100")
    mid_year = (await store.read_stream(teacher_stream("2000001")))[-1].data
    assert (mid_year["pro_rata_percent"], mid_year["funding_pence"]) == ("50.41", 30_246)
    assert await store.stream_version(teacher_stream("2000002")) == 1  # after the year
    assert await store.stream_version(teacher_stream("2000000")) == 2  # left: no grant
    events = await pool.fetchval("select count(*) from es.events")

    second = await grant_year(store, YEAR, META, chunk_size=4, workers=3)

    assert (second.teachers, second.granted, second.already_granted, second.not_eligible) == (
        25,
        0,
        23,
        2,
    )
    assert await pool.fetchval("select count(*) from es.events") == events


async def test_a_run_that_crashed_half_way_is_finished_by_running_it_again(pool: Pool) -> None:
    store = EventStore(pool)
    await seed(store)
    await put(store, policy_stream(YEAR), published())
    await grant_year(store, YEAR, META, chunk_size=5)
    await put(store, policy_stream(YEAR), published(version=2, base=65_000))  # a correction

    crashing = CrashingStore(pool, crash_on=3)
    with pytest.raises(RuntimeError, match="died"):
        await grant_year(crashing, YEAR, META, chunk_size=5, workers=1)
    assert 0 < await grants_stored(pool, 2) < 23

    rerun = await grant_year(store, YEAR, META, chunk_size=5, workers=2)

    assert rerun.granted + rerun.already_granted == 23
    assert rerun.already_granted > 0
    assert await grants_stored(pool, 2) == 23
    assert await grants_stored(pool, 1) == 23
    state = (await store.read_stream(teacher_stream("2000004")))[-1].data
    assert (state["policy_version"], state["funding_pence"]) == (2, 65_000)


async def test_a_teacher_registered_mid_year_is_granted_pro_rata_at_once(pool: Pool) -> None:
    store = EventStore(pool)
    await seed(store)
    service = Entitlement(store)
    before = registered(30, date(2025, 10, 1))
    assert [e.event_type for e in await service.register_teacher(before, META)] == [
        "TeacherRegistered"
    ]  # no policy yet: the grant run grants later

    await put(store, policy_stream(YEAR), published())
    details = registered(31, date(2026, 3, 1))
    envelopes = await service.register_teacher(details, META)

    assert [e.event_type for e in envelopes] == ["TeacherRegistered", "EntitlementGranted"]
    grant = envelopes[1]
    assert grant.event_id == grant_event_id(details.trn, YEAR, 1)
    assert (grant.data["pro_rata_percent"], grant.data["funding_pence"]) == ("50.41", 30_246)
    assert grant.data["hours"] == "17.64"  # 35 x 0.5041 = 17.6435
    run = await grant_year(store, YEAR, META)
    assert run.granted == 24  # the seed's 23 and the teacher registered before the policy
    assert run.already_granted == 1
