"""Real infrastructure for tests and benchmarks: a PostgreSQL server and a Kafka-protocol broker.

Obtained in this order: URLs from the environment (``CPD_TEST_DATABASE_URL`` or
``DATABASE_URL``, and ``KAFKA_BOOTSTRAP_SERVERS``); a Docker engine through testcontainers if one
answers; otherwise local servers from the binaries the project installs. A component that cannot
be had raises :class:`InfrastructureUnavailable`: tests fail loudly, they never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from cpd_events import Envelope
from cpd_eventstore.db import with_database
from cpd_platform.embedded import EmbeddedError, LocalBroker, LocalPostgres, free_port

T = TypeVar("T")


class InfrastructureUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Record:
    """A Kafka record as a consumer sees it, for feeding consumers directly in tests."""

    value: bytes | None
    topic: str = "t"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0


def record_of(envelope: Envelope, offset: int = 0) -> Record:
    return Record(envelope.model_dump_json().encode(), offset=offset)


@dataclass(frozen=True)
class Infrastructure:
    postgres_url: str
    bootstrap_servers: str
    source: str


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def infrastructure(workdir: Path | None = None) -> Iterator[Infrastructure]:
    postgres_url = os.environ.get("CPD_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    sources = []
    with ExitStack() as stack:
        if postgres_url:
            sources.append("postgres from the environment")
        if bootstrap:
            sources.append("broker from the environment")
        docker = (not postgres_url or not bootstrap) and _docker_answers()
        if docker and not postgres_url:
            from testcontainers.postgres import PostgresContainer

            container = stack.enter_context(PostgresContainer("postgres:16", driver=None))
            postgres_url = container.get_connection_url()
            sources.append("postgres from testcontainers")
        if docker and not bootstrap:
            from testcontainers.kafka import KafkaContainer

            kafka = stack.enter_context(KafkaContainer().with_kraft())
            bootstrap = kafka.get_bootstrap_server()
            sources.append("Kafka from testcontainers")
        base = workdir or Path(tempfile.mkdtemp(prefix="cpd-test-"))
        if workdir is None:
            stack.callback(shutil.rmtree, base, ignore_errors=True)
        base.chmod(0o755)  # the server may run as another user (postgres, when we are root)
        if not postgres_url:
            server = LocalPostgres(base / "pgdata", free_port())
            try:
                postgres_url = server.start()
            except EmbeddedError as error:
                raise InfrastructureUnavailable(f"no PostgreSQL for the tests: {error}") from error
            stack.callback(server.stop)
            sources.append("local postgres")
        if not bootstrap:
            broker = LocalBroker(free_port(), log_file=base / "tansu.log")
            try:
                bootstrap = broker.start()
            except EmbeddedError as error:
                raise InfrastructureUnavailable(
                    f"no Kafka broker for the tests: {error}"
                ) from error
            stack.callback(broker.stop)
            sources.append("local Tansu broker")
        yield Infrastructure(postgres_url, bootstrap, ", ".join(sources))


async def create_database(server_url: str, name: str | None = None) -> str:
    """Create a fresh database on the server; return its URL."""
    name = name or f"cpd_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = url.rpartition("/")[2].split("?")[0]
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


async def eventually(
    check: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    within: float = 10.0,
) -> T:
    """Poll ``check`` until its result satisfies ``until`` (truthy by default) and return it.

    For what arrives through the broker (read models, replicas); fails the test on time-out.
    """
    deadline = asyncio.get_running_loop().time() + within
    while not until(result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"still {result!r} after {within} s"
        await asyncio.sleep(0.02)
    return result


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    expect: int,
    within: float = 10.0,
    keys: Collection[str] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until ``expect`` records arrived or time ran out.

    With ``keys``, only records keyed by one of them (stream ids) are kept and counted: topics
    are shared by the tests of a run.
    """
    wanted = None if keys is None else {key.encode() for key in keys}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic, within)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = asyncio.get_running_loop().time() + within
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(r for r in items if wanted is None or r.key in wanted)
        return records
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, within: float
) -> list[TopicPartition]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        numbers = consumer.partitions_for_topic(topic)
        if numbers:
            return [TopicPartition(topic, p) for p in sorted(numbers)]
        if asyncio.get_running_loop().time() > deadline:
            raise InfrastructureUnavailable(f"topic {topic} does not exist")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)


# --- credentials for tests (see cpd_platform.auth) ----------------------------------------------

_TEST_SIGNING_KEY: list[bytes] = []


def signing_key_of_tests() -> bytes:
    """A signing key made once per test process (PEM); :func:`use_test_auth` trusts it."""
    if not _TEST_SIGNING_KEY:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        _TEST_SIGNING_KEY.append(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return _TEST_SIGNING_KEY[0]


def use_test_auth() -> None:
    """Services built from now on in this process verify tokens of :func:`signing_key_of_tests`."""
    from cpd_platform.auth import public_pem_of

    os.environ["CPD_AUTH_PUBLIC_KEY"] = public_pem_of(signing_key_of_tests())
    for name in ("CPD_AUTH_JWKS", "CPD_AUTH_JWKS_URL", "CPD_AUTH_ISSUER", "CPD_AUTH_AUDIENCE"):
        os.environ.pop(name, None)


def auth_headers(
    role: str = "operator",
    *,
    trust_id: str | None = None,
    school_urn: str | None = None,
    trn: str | None = None,
    subject: str | None = None,
    ttl_s: float = 3600,
) -> dict[str, str]:
    """``Authorization`` for a request as ``role``, bound as that role needs."""
    from cpd_platform.auth import bearer, issue_token

    token = issue_token(
        signing_key_of_tests(),
        role,
        subject=subject or "-".join(["test", role, *filter(None, (trust_id, school_urn, trn))]),
        trust_id=trust_id,
        school_urn=school_urn,
        trn=trn,
        ttl_s=ttl_s,
    )
    return bearer(token)


def operator_headers() -> dict[str, str]:
    """What the existing API tests send: an operator's token (the actor of their events)."""
    return auth_headers("operator", subject="test")
