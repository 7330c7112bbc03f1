"""Run the whole platform on one machine: infrastructure, databases, topics, four services.

Used by ``cpd up`` (``make up``) and by the end-to-end tests, so both run the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from cpd_events.topics import ALL_TOPICS, DEFAULT_PARTITIONS
from cpd_eventstore.db import with_database
from cpd_eventstore.kafka import ensure_topics, wait_for_broker
from cpd_platform.auth import PUBLIC_KEY_FILE, bearer, ensure_signing_key, token_from_home
from cpd_platform.embedded import LocalBroker, LocalPostgres

SERVICES: dict[str, int] = {
    "entitlement": 8001,
    "catalogue": 8002,
    "mentoring": 8003,
    "reporting": 8004,
}


class PlatformError(RuntimeError):
    pass


@dataclass
class Platform:
    home: Path
    database_url: str | None = None  # a server URL; None: start our own PostgreSQL
    bootstrap_servers: str | None = None  # None: start our own broker
    ports: Mapping[str, int] = field(default_factory=lambda: dict(SERVICES))
    postgres_port: int = 55432
    broker_port: int = 59092
    partitions: int = DEFAULT_PARTITIONS
    database_prefix: str = "cpd_"
    service_env: Mapping[str, str] = field(default_factory=dict)
    postgres: LocalPostgres | None = field(default=None, init=False)
    broker: LocalBroker | None = field(default=None, init=False)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def auth_env(self) -> dict[str, str]:
        """How the services verify tokens: the platform's own key (made once in ``home``),
        unless an external issuer is configured (``CPD_AUTH_JWKS_URL`` or ``CPD_AUTH_JWKS``)."""
        configured = {**os.environ, **self.service_env}
        if configured.get("CPD_AUTH_JWKS_URL") or configured.get("CPD_AUTH_JWKS"):
            return {}
        ensure_signing_key(self.home)
        return {"CPD_AUTH_PUBLIC_KEY": str(self.home / PUBLIC_KEY_FILE)}

    def token(self, role: str = "operator", ttl_s: float = 12 * 3600, **claims: str) -> str:
        """A token signed with the platform's key (``cpd token`` does the same)."""
        ensure_signing_key(self.home)
        found = token_from_home(self.home, role, ttl_s=ttl_s, **claims)
        assert found is not None
        return found

    def operator_headers(self) -> dict[str, str]:
        return bearer(self.token("operator", subject="operator:launcher"))

    def database_of(self, service: str) -> str:
        return with_database(self._infrastructure()[0], f"{self.database_prefix}{service}")

    def _infrastructure(self) -> tuple[str, str]:
        if self.database_url is None or self.bootstrap_servers is None:
            raise PlatformError("start_infrastructure() first")
        return self.database_url, self.bootstrap_servers

    def start_infrastructure(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        if self.database_url is None:
            self.postgres = LocalPostgres(self.home / "pgdata", self.postgres_port)
            self.database_url = self.postgres.start()
        if self.bootstrap_servers is None:
            self.broker = LocalBroker(self.broker_port, log_file=self.logs / "broker.log")
            self.bootstrap_servers = self.broker.start()

    async def prepare(self) -> None:
        """Create the service databases and the topics if missing."""
        database_url, bootstrap_servers = self._infrastructure()
        conn = await asyncpg.connect(database_url)
        try:
            existing = {r["datname"] for r in await conn.fetch("select datname from pg_database")}
            for service in self.ports:
                name = f"{self.database_prefix}{service}"
                if name not in existing:
                    await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()
        await wait_for_broker(bootstrap_servers)
        await ensure_topics(bootstrap_servers, ALL_TOPICS, self.partitions)

    def start_service(self, service: str) -> None:
        _, bootstrap_servers = self._infrastructure()
        env = {
            **os.environ,
            **self.auth_env(),
            **self.service_env,
            "CPD_SERVICE_NAME": service,
            "DATABASE_URL": self.database_of(service),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "CPD_TOPIC_PARTITIONS": str(self.partitions),
            "CPD_LOG_FORMAT": "json",
        }
        log = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[service] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{service}.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[service]),
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_services(self) -> None:
        for service in self.ports:
            self.start_service(service)

    async def wait_healthy(self, within: float = 120.0) -> float:
        """Wait until every service's /health answers 200; return the seconds it took."""
        started = time.monotonic()
        pending = set(self.ports)
        async with httpx.AsyncClient(timeout=3) as client:
            while pending:
                for service in sorted(pending):
                    process = self.processes.get(service)
                    if process is not None and process.poll() is not None:
                        raise PlatformError(
                            f"{service} exited with code {process.returncode}; see "
                            f"{self.logs / (service + '.log')}:\n{self.tail(service)}"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.get(f"{self.url(service)}/health")
                        if response.status_code == 200:
                            pending.discard(service)
                if pending and time.monotonic() - started > within:
                    raise PlatformError(f"not healthy within {within:.0f} s: {sorted(pending)}")
                if pending:
                    await asyncio.sleep(0.2)
        return time.monotonic() - started

    def tail(self, service: str, lines: int = 20) -> str:
        path = self.logs / f"{service}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_service(self, service: str, kill: bool = False) -> None:
        process = self.processes.pop(service, None)
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_services(self) -> None:
        """Stop every service at once (each leaves its consumer groups, which takes a moment)."""
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + 20
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def stop(self) -> None:
        self.stop_services()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
