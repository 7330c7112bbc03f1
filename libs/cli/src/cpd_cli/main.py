"""``cpd``: the operator's command line."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer
from rich.table import Table

from cpd_cli import demo
from cpd_cli.client import auth_headers, console, service_url
from cpd_cli.client import call as _call
from cpd_cli.client import fail as _fail
from cpd_cli.grants import grant as grant_year
from cpd_cli.imports import app as imports_app
from cpd_cli.reporting import feed_app, reporting_app, trusts_app
from cpd_cli.seed import seed as seed_command
from cpd_cli.seed import seed_for_up
from cpd_cli.tokens import rotate as rotate_signing_key
from cpd_cli.tokens import token as issue_token
from cpd_platform.embedded import EmbeddedError
from cpd_platform.launcher import SERVICES, Platform, PlatformError
from reporting.web.auth import read_operator_token

app = typer.Typer(help="Operate the CPD platform.", no_args_is_help=True, add_completion=False)
dead_letters = typer.Typer(help="Events consumers could not handle.", no_args_is_help=True)
app.add_typer(dead_letters, name="dead-letters")
app.command("grant")(grant_year)  # a year's entitlement for every teacher (funding helper)
app.add_typer(imports_app, name="import")  # bulk imports into the registry
app.add_typer(reporting_app, name="reporting")  # read models: rebuild, snapshots, check
app.add_typer(trusts_app, name="trusts")  # trusts' feed credentials
app.add_typer(feed_app, name="feed")  # follow a trust's feed
app.command("token")(issue_token)  # a bearer token signed with the platform's key
app.command("rotate-signing-key")(rotate_signing_key)
app.command("seed")(seed_command)  # a realistic national year from the real census
ServiceName = Annotated[str, typer.Argument(help="entitlement, catalogue, mentoring or reporting")]


def _raise_interrupt(_: int, __: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command()
def up(
    seed: Annotated[bool, typer.Option(help="Seed the demo data (idempotent)")] = True,
    seed_scale: Annotated[
        float,
        typer.Option(min=0, max=1, help="Scale of the realistic current year seeded (0: none)"),
    ] = 0.01,
    home: Annotated[Path, typer.Option(envvar="CPD_HOME", help="State folder")] = Path(".cpd"),
) -> None:
    """Run the platform in the foreground; Ctrl-C stops everything cleanly.

    Starts its own PostgreSQL (data kept in HOME/pgdata) unless DATABASE_URL names a server,
    and its own Kafka-protocol broker unless KAFKA_BOOTSTRAP_SERVERS is set.
    """
    # Ctrl-C and SIGTERM stop everything, even when started as a background job (which
    # inherits SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    home = home.resolve()
    lock = _claim(home)
    platform = Platform(
        home=home,
        database_url=os.environ.get("DATABASE_URL") or None,
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        postgres_port=int(os.environ.get("CPD_POSTGRES_PORT", "55432")),
        broker_port=int(os.environ.get("CPD_BROKER_PORT", "59092")),
        partitions=int(os.environ.get("CPD_TOPIC_PARTITIONS", "12")),
        # on one machine a consumer group forms in session/2: keep start-up short
        service_env={
            "CPD_HOME": str(home),  # reporting keeps the web dashboard's operator token there
            "CPD_CONSUMER_SESSION_TIMEOUT_MS": os.environ.get(
                "CPD_CONSUMER_SESSION_TIMEOUT_MS", "4000"
            ),
            "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS": os.environ.get(
                "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS", "1000"
            ),
        },
    )
    try:
        started = time.monotonic()
        with console.status("starting PostgreSQL and the broker..."):
            platform.start_infrastructure()
        postgres = (
            f"own, data in {platform.home / 'pgdata'}" if platform.postgres else "DATABASE_URL"
        )
        broker = "own Tansu" if platform.broker else "KAFKA_BOOTSTRAP_SERVERS"
        console.print(f"PostgreSQL: {postgres}; broker: {broker} at {platform.bootstrap_servers}")
        with console.status("creating databases and topics, starting the four services..."):
            asyncio.run(platform.prepare())
            platform.start_services()
            asyncio.run(platform.wait_healthy())
        console.print(
            f"[green]all four services healthy[/green] in {time.monotonic() - started:.1f} s"
        )
        if seed:
            with console.status("seeding the demo...") as status:
                report = demo.seed(
                    {s: platform.url(s) for s in SERVICES},
                    progress=lambda step: status.update(f"seeding the demo: {step}..."),
                    headers=platform.operator_headers(),
                )
            console.print(
                f"demo: {report.created} commands applied, {report.existing} already there"
            )
            if seed_scale > 0:  # a realistic current year (`cpd seed`), idempotent
                seed_for_up(platform.database_of, platform.url("reporting"), seed_scale)
        _print_where_to_look(platform)
        while True:
            time.sleep(1)
            for service in SERVICES:
                process = platform.processes.get(service)
                if process is not None and process.poll() is not None:
                    console.print(
                        f"[yellow]{service} exited ({process.returncode}); restarting[/yellow]"
                    )
                    console.print(platform.tail(service))
                    platform.start_service(service)
    except KeyboardInterrupt:
        console.print("stopping...")
    except (EmbeddedError, PlatformError) as error:
        console.print(f"[red]could not start:[/red] {error}")
        raise typer.Exit(1) from error
    finally:
        # a second Ctrl-C (a terminal and `uv run` may both send one) must not cut the stop
        # short and leave PostgreSQL and the broker running
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        platform.stop()
        lock.unlink(missing_ok=True)
        console.print("stopped; data kept in " + str(platform.home))


def _claim(home: Path) -> Path:
    """One `cpd up` per state folder: a second one would fight the first for its ports."""
    home.mkdir(parents=True, exist_ok=True)
    lock = home / "up.pid"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            pass  # left by a run that was killed: take it over
        except PermissionError:
            _fail(f"the platform already runs from {home} (pid {lock.read_text().strip()})")
        else:
            _fail(f"the platform already runs from {home} (pid {pid}): stop it first (Ctrl-C)")
    lock.write_text(str(os.getpid()))
    return lock


def _print_where_to_look(platform: Platform) -> None:
    table = Table(title="CPD platform", show_lines=False)
    table.add_column("service")
    table.add_column("API docs")
    table.add_column("health")
    for service in SERVICES:
        table.add_row(service, f"{platform.url(service)}/docs", f"{platform.url(service)}/health")
    console.print(table)
    record = f"{platform.url('reporting')}/teachers/{demo.TEACHERS[3][0]}/record"
    console.print(f"A teacher's CPD record: {record}")
    token = read_operator_token(platform.home)
    console.print(f"Web dashboard: {platform.url('reporting')}/ui/  (operator token: {token})")
    bearer = platform.token("operator", subject="operator:cpd-up")
    console.print(
        "Every API call but /health needs a bearer token (docs/security.md). An operator's,"
        f' valid 12 h:\n  export CPD_TOKEN={bearer}\n  curl -H "Authorization: Bearer'
        f' $CPD_TOKEN" {record}\nMore: `uv run cpd token --role trust --trust 2044`',
        soft_wrap=True,
    )
    console.print(f"Logs: {platform.logs}    Ctrl-C stops everything.")


@app.command()
def status() -> None:
    """Health of each service and its relay's lag."""
    table = Table("service", "health", "relay published", "relay lag")
    for service in SERVICES:
        try:
            health = httpx.get(f"{service_url(service)}/health", timeout=5)
            state = health.json().get("status", str(health.status_code))
        except httpx.HTTPError:
            table.add_row(service, "[red]down[/red]", "", "")
            continue
        relay = httpx.get(f"{service_url(service)}/admin/relay", headers=auth_headers(), timeout=5)
        published, lag = ("", "")
        if relay.status_code == 200:
            published, lag = str(relay.json()["published"]), str(relay.json()["lag"])
        table.add_row(service, state, published, lag)
    console.print(table)


def _bootstrap_servers() -> str:
    """The broker `cpd up` uses: KAFKA_BOOTSTRAP_SERVERS, else its own on CPD_BROKER_PORT."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or (
        f"127.0.0.1:{os.environ.get('CPD_BROKER_PORT', '59092')}"
    )


@app.command()
def lag(
    group: Annotated[str, typer.Argument(help="Consumer group, e.g. reporting.entitlement")],
    topic: Annotated[
        list[str] | None, typer.Option(help="Topic to check (repeatable); default: all")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Broker; default as `cpd up`: KAFKA_BOOTSTRAP_SERVERS")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A consumer group's lag per partition, in events and seconds."""
    import json

    from aiokafka.errors import KafkaError

    from cpd_events.topics import ALL_TOPICS
    from cpd_eventstore.lag import consumer_lag

    servers = bootstrap or _bootstrap_servers()
    try:
        lags = asyncio.run(consumer_lag(servers, group, topic or list(ALL_TOPICS)))
    except (KafkaError, TimeoutError, OSError) as error:
        _fail(f"no answer from the broker at {servers}: {error!r} (is `make up` on?)")
    if as_json:
        print(json.dumps([{"group": group, **item.model_dump()} for item in lags], indent=2))
        return
    table = Table(title=f"lag of {group} at {servers}")
    for column in ("group", "topic"):
        table.add_column(column, no_wrap=True, overflow="fold")
    for column in ("partition", "committed", "high water", "lag", "lag s"):
        table.add_column(column, justify="right")
    for item in lags:
        table.add_row(
            group,
            item.topic,
            str(item.partition),
            "-" if item.committed_offset is None else str(item.committed_offset),
            str(item.high_water_mark),
            str(item.lag_events),
            "?" if item.lag_seconds is None else f"{item.lag_seconds:.1f}",
        )
    known = [item.lag_seconds for item in lags if item.lag_seconds is not None]
    table.add_section()
    table.add_row(
        group,
        "total",
        "",
        "",
        str(sum(item.high_water_mark for item in lags)),
        str(sum(item.lag_events for item in lags)),
        f"{max(known, default=0.0):.1f}",
    )
    console.print(table)


@app.command()
def republish(
    service: ServiceName,
    from_position: Annotated[int, typer.Option(min=0, help="First global position")] = 0,
) -> None:
    """Send a service's stored events to its topic again (refill a broker that lost data)."""
    result = _call("POST", service, "/admin/republish", json={"from_position": from_position})
    console.print(f"sent {result['sent']} events to {result['topic']}")


@dead_letters.command("list")
def list_letters(
    service: ServiceName,
    status: Annotated[
        list[str] | None, typer.Option(help="failed, parked, resolved, discarded")
    ] = None,
) -> None:
    """List a service's dead letters."""
    letters = _call(
        "GET", service, "/admin/dead-letters", params={"status": status or ["failed", "parked"]}
    )
    table = Table("id", "consumer", "status", "stream", "version", "type", "error")
    for letter in letters:
        table.add_row(
            str(letter["id"]),
            letter["consumer"],
            letter["status"],
            letter["stream_id"] or "",
            str(letter["stream_version"] or ""),
            letter["event_type"] or "",
            letter["error"][:80],
        )
    console.print(table)


@dead_letters.command("retry")
def retry_letter(service: ServiceName, consumer: str, letter_id: int) -> None:
    """Retry a failed event after a fix; its parked followers follow."""
    result = _call("POST", service, f"/admin/dead-letters/{consumer}/{letter_id}/retry")
    if result["error"]:
        _fail(f"still failing: {result['error']}")
    console.print(f"applied {result['applied']} event(s)")


@dead_letters.command("discard")
def discard_letter(
    service: ServiceName,
    consumer: str,
    letter_id: int,
    reason: Annotated[str, typer.Option(help="Why it is safe to skip")],
) -> None:
    """Give up on a failed event (its version is skipped) and release its stream."""
    result = _call(
        "POST",
        service,
        f"/admin/dead-letters/{consumer}/{letter_id}/discard",
        json={"reason": reason},
    )
    console.print(f"discarded; {result['applied']} parked event(s) applied after it")


@app.command()
def schemas(directory: Annotated[Path, typer.Argument()] = Path("schemas")) -> None:
    """Write the JSON Schema of every event."""
    from cpd_events.schema import export

    console.print(f"wrote {len(export(directory))} schemas to {directory}")


@app.command("api-docs")
def api_docs(directory: Annotated[Path, typer.Argument()] = Path("docs/api")) -> None:
    """Write the OpenAPI of every service and the AsyncAPI of the trust feeds."""
    from cpd_cli.apidocs import write

    for path in write(directory):
        console.print(f"wrote {path}")


def main() -> None:
    app()
