"""Granting a national year: 470,000 teachers over 22,000 schools, through ``grant_year``.

Seeds the national set straight through the event store (schools and teachers appended in bulk,
timed apart), publishes a policy, then times the grant run and an idempotent re-run. Prints the
figures and writes bench/results/grant_national.json.

    uv run python bench/grant_national.py [--teachers 470000] [--schools 22000]
        [--chunk-size 2000] [--workers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from cpd_events import Metadata, NewEvent
from cpd_events.entitlement_events import EntitlementPolicyPublished
from cpd_events.registry_events import SchoolRegistered, TeacherLeftProfession, TeacherRegistered
from cpd_events.types import CareerStage
from cpd_eventstore import EVENTSTORE_MIGRATIONS, EventStore, StreamWrite, migrate
from cpd_eventstore.db import create_pool
from cpd_platform.testing import create_database, drop_database, infrastructure
from entitlement.domain.policy import policy_stream
from entitlement.domain.registry import school_stream
from entitlement.domain.teacher import teacher_stream
from entitlement.grants import GrantRun, grant_year

RESULTS = Path(__file__).parent / "results"
YEAR = "2025/26"
SEED_CHUNK = 2000
STAGES = list(CareerStage)
META = Metadata(actor="bench")


def school(k: int) -> SchoolRegistered:
    return SchoolRegistered(
        urn=f"{100_000 + k:06d}",
        name=f"School {k}",
        local_authority="Somewhere",
        phase="Primary" if k % 4 else "Secondary",
        pp50=k % 5 == 0,  # a fifth of schools carry the premium
    )


def teacher(i: int, schools: int) -> TeacherRegistered:
    mid_year = i % 50 == 7  # 2% joined during the year: pro rata
    return TeacherRegistered(
        trn=f"{1_000_000 + i:07d}",
        school_urn=f"{100_000 + i % schools:06d}",
        given_name="Given",
        family_name="Family",
        career_stage=STAGES[i % len(STAGES)],
        fte=Decimal(100 if i % 5 else 60),
        registered_on=date(2026, 1, 5) if mid_year else date(2024, 9, 1),
    )


async def seed(store: EventStore, teachers: int, schools: int) -> dict[str, float]:
    started = time.perf_counter()
    events = 0
    for start in range(0, schools, SEED_CHUNK):
        writes = [
            StreamWrite(school_stream(f"{100_000 + k:06d}"), 0, [NewEvent(event=school(k))])
            for k in range(start, min(start + SEED_CHUNK, schools))
        ]
        await store.append_many(writes, META)
        events += len(writes)
    for start in range(0, teachers, SEED_CHUNK):
        writes = []
        for i in range(start, min(start + SEED_CHUNK, teachers)):
            registered = teacher(i, schools)
            stream = [NewEvent(event=registered)]
            if i % 100 == 3:  # 1% left the profession: no grant
                left = TeacherLeftProfession(
                    trn=registered.trn, school_urn=registered.school_urn, left_on=date(2025, 7, 1)
                )
                stream.append(NewEvent(event=left))
            writes.append(StreamWrite(teacher_stream(registered.trn), 0, stream))
            events += len(stream)
        await store.append_many(writes, META)
        if start % 100_000 == 0:
            print(f"  seeded {start + len(writes):,} teachers", flush=True)
    policy = EntitlementPolicyPublished(
        academic_year=YEAR,
        policy_version=1,
        minimum_hours=Decimal(35),
        base_funding_per_fte_pence=60_000,
        pp50_uplift_percent=Decimal(25),
        early_career_uplift_percent=Decimal(10),
        effective_from=date(2025, 9, 1),
    )
    await store.append(policy_stream(YEAR), 0, [NewEvent(event=policy)], META)
    seconds = time.perf_counter() - started
    return {"events": events + 1, "seconds": round(seconds, 2), "events_per_s": events / seconds}


async def run(teachers: int, schools: int, chunk_size: int, workers: int) -> dict[str, object]:
    with infrastructure() as infra:
        url = await create_database(infra.postgres_url)
        pool = await create_pool(url, max_size=workers + 2)
        try:
            await migrate(pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
            store = EventStore(pool)
            server = await pool.fetchval("show server_version")
            print(f"seeding {teachers:,} teachers over {schools:,} schools...", flush=True)
            seeded = await seed(store, teachers, schools)
            print(
                f"seed: {seeded['events']:,} events in {seeded['seconds']:.1f} s"
                f" ({seeded['events_per_s']:,.0f} events/s)",
                flush=True,
            )
            await pool.execute("analyze es.events")

            last_print = [0.0]

            def progress(r: GrantRun) -> None:
                now = time.perf_counter()
                if now - last_print[0] > 5 or r.teachers == r.total:
                    last_print[0] = now
                    rate = r.teachers / r.seconds if r.seconds else 0.0
                    print(f"  {r.teachers:,}/{r.total:,} teachers, {rate:,.0f}/s", flush=True)

            first = await grant_year(
                store, YEAR, META, chunk_size=chunk_size, workers=workers, progress=progress
            )
            again = await grant_year(store, YEAR, META, chunk_size=chunk_size, workers=workers)
            stored = await pool.fetchval(
                "select count(*) from es.events where event_type = 'EntitlementGranted'"
            )
        finally:
            await pool.close()
            await drop_database(infra.postgres_url, url)

    grant = {
        **first.as_dict(),
        "teachers_per_s": round(first.teachers / first.seconds),
        "grants_per_s": round(first.granted / first.seconds),
    }
    rerun = {**again.as_dict(), "teachers_per_s": round(again.teachers / again.seconds)}
    return {
        "benchmark": "grant_national",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        },
        "versions": {
            "python": platform.python_version(),
            "postgres": server,
            "asyncpg": version("asyncpg"),
            "pydantic": version("pydantic"),
            "postgres_source": infra.source,
        },
        "dataset": {
            "teachers": teachers,
            "schools": schools,
            "left_profession": sum(1 for i in range(teachers) if i % 100 == 3),
            "registered_mid_year": sum(1 for i in range(teachers) if i % 50 == 7),
            "chunk_size": chunk_size,
            "workers": workers,
        },
        "figures": {
            "seed": {k: round(v, 2) for k, v in seeded.items()},
            "grant": grant,
            "rerun_idempotent": rerun,
            "grants_stored": stored,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teachers", type=int, default=470_000)
    parser.add_argument("--schools", type=int, default=22_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.teachers, args.schools, args.chunk_size, args.workers))
    grant = result["figures"]["grant"]  # type: ignore[index]
    rerun = result["figures"]["rerun_idempotent"]  # type: ignore[index]
    print(
        f"grant: {grant['teachers']:,} teachers ({grant['granted']:,} granted,"
        f" {grant['not_eligible']:,} not eligible) in {grant['seconds']:.1f} s"
        f" = {grant['teachers_per_s']:,} teachers/s"
    )
    print(
        f"re-run (idempotent): {rerun['granted']} granted, {rerun['already_granted']:,} already,"
        f" in {rerun['seconds']:.1f} s"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "grant_national.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
