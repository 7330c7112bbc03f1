"""Outbox relay throughput: stored events -> broker, against raw aiokafka producing the same
messages, in the same run, on the same broker. Prints figures and writes JSON to bench/results.

    uv run python bench/relay_throughput.py [--events 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from cpd_events import Metadata, NewEvent
from cpd_events.entitlement_events import HoursLogged
from cpd_eventstore import EVENTSTORE_MIGRATIONS, EventStore, OutboxRelay, StreamWrite, migrate
from cpd_eventstore.db import create_pool
from cpd_eventstore.kafka import ensure_topics, make_producer
from cpd_eventstore.relay import _SELECT, message_of
from cpd_platform.testing import create_database, drop_database, infrastructure

RESULTS = Path(__file__).parent / "results"


def event(i: int) -> NewEvent:
    return NewEvent(
        event=HoursLogged(
            log_id=f"log-{i}",
            trn=f"{1_000_000 + i % 5000:07d}",
            school_urn="100000",
            academic_year="2025/26",
            hours="1.5",
            activity_type="course",
            activity_date="2025-10-01",
        )
    )


async def run(events: int) -> dict[str, object]:
    with infrastructure() as infra:
        url = await create_database(infra.postgres_url)
        pool = await create_pool(url, max_size=8)
        try:
            await migrate(pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
            store = EventStore(pool)
            meta = Metadata(actor="bench")
            for start in range(0, events, 500):  # 500 events a transaction, 100 streams each
                batch = [event(i) for i in range(start, min(start + 500, events))]
                await store.append_many(
                    [StreamWrite(f"bench-{start}-{k}", 0, batch[k::100]) for k in range(100)],
                    meta,
                )
            await ensure_topics(infra.bootstrap_servers, ["bench.relay", "bench.raw"], 12)

            relay = OutboxRelay(pool, infra.bootstrap_servers, "bench.relay", batch_size=2000)
            await relay.start()
            stop = asyncio.Event()
            started = time.perf_counter()
            task = asyncio.create_task(relay.run(stop))
            while (await relay.checkpoint()).published < events:  # noqa: ASYNC110 - polls the DB
                await asyncio.sleep(0.01)
            relay_seconds = time.perf_counter() - started
            stop.set()
            await task
            await relay.stop()

            rows = await pool.fetch(f"{_SELECT} order by position")
            messages = [message_of(row) for row in rows]
            producer = make_producer(infra.bootstrap_servers, "bench-raw")
            await producer.start()
            started = time.perf_counter()
            futures = [
                await producer.send("bench.raw", value=v, key=k, headers=h) for k, v, h in messages
            ]
            await asyncio.gather(*futures)
            raw_seconds = time.perf_counter() - started
            await producer.stop()
        finally:
            await pool.close()
            await drop_database(infra.postgres_url, url)
    return {
        "benchmark": "relay_throughput",
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {p: version(p) for p in ("aiokafka", "asyncpg", "pydantic")},
        "infrastructure": infra.source,
        "dataset": {"events": events, "payload": "HoursLogged envelope, ~600 B"},
        "figures": {
            "relay_events_per_s": round(events / relay_seconds),
            "raw_aiokafka_events_per_s": round(events / raw_seconds),
            "relay_share_of_raw": round(raw_seconds / relay_seconds, 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    result = asyncio.run(run(parser.parse_args().events))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "relay_throughput.json"
    path.write_text(json.dumps(result, indent=2))
    for name, figure in result["figures"].items():  # type: ignore[attr-defined]
        print(f"{name:>28}: {figure:,}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
