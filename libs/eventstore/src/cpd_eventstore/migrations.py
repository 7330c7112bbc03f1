"""Numbered SQL migrations, applied once each, under an advisory lock so that several
instances starting together apply them exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from cpd_eventstore.db import Pool

_LOCK_KEY = 0x43504431  # "CPD1": serialises migrators on one database


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


async def migrate(pool: Pool, namespace: str, migrations: list[Migration]) -> list[int]:
    """Apply the migrations of ``namespace`` not yet applied; return the versions applied."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"{namespace} migrations must have unique increasing versions")
    applied_now: list[int] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            """
            create schema if not exists es;
            create table if not exists es.schema_migrations (
                namespace text not null,
                version int not null,
                name text not null,
                applied_at timestamptz not null default now(),
                primary key (namespace, version)
            )
            """
        )
        done = {
            row["version"]
            for row in await conn.fetch(
                "select version from es.schema_migrations where namespace = $1", namespace
            )
        }
        for migration in migrations:
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "insert into es.schema_migrations (namespace, version, name) values ($1, $2, $3)",
                namespace,
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
    return applied_now


EVENTSTORE_MIGRATIONS = [
    Migration(
        1,
        "event store, relay checkpoints, consumer progress, dead letters",
        """
        create table es.events (
            position bigint generated always as identity primary key,
            tx_id xid8 not null default pg_current_xact_id(),
            event_id uuid not null unique,
            stream_id text not null,
            stream_version int not null check (stream_version >= 1),
            event_type text not null,
            schema_version int not null,
            occurred_at timestamptz not null,
            recorded_at timestamptz not null default now(),
            correlation_id text not null,
            causation_id text,
            actor text not null,
            trust_id text,
            school_urn text,
            teacher_id text,
            traceparent text,
            data jsonb not null,
            unique (stream_id, stream_version)
        );
        create index events_tx_position on es.events (tx_id, position);

        create table es.relay_checkpoints (
            relay text primary key,
            tx_id xid8 not null default '0',
            position bigint not null default 0,
            published bigint not null default 0,
            updated_at timestamptz not null default now()
        );

        create table es.consumer_streams (
            consumer text not null,
            stream_id text not null,
            version int not null,
            updated_at timestamptz not null default now(),
            primary key (consumer, stream_id)
        );

        create table es.dead_letters (
            id bigint generated always as identity primary key,
            consumer text not null,
            status text not null check (status in ('failed', 'parked', 'resolved', 'discarded')),
            stream_id text,
            stream_version int,
            event_id uuid,
            event_type text,
            topic text,
            partition int,
            "offset" bigint,
            payload bytea not null,
            error text not null,
            attempts int not null default 1,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            resolution text
        );
        create index dead_letters_open on es.dead_letters (consumer, stream_id, stream_version)
            where status in ('failed', 'parked');
        create unique index dead_letters_one_per_event on es.dead_letters (consumer, event_id)
            where event_id is not null and status in ('failed', 'parked');
        """,
    ),
]
