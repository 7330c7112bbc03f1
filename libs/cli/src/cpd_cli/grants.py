"""``cpd grant ACADEMIC_YEAR``: grant a year's entitlement to every active teacher.

Runs :func:`entitlement.grants.grant_year` straight against entitlement's event store (the
national run: 470,000 teachers in chunks of 2,000, a transaction each); the service's outbox
relay publishes the grants afterwards as usual. Idempotent: re-running it, also after Ctrl-C or a
crash, grants only the teachers not yet granted under the year's current policy version.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from cpd_events import Metadata
from cpd_events.decider import RuleBroken
from cpd_events.types import AcademicYear
from cpd_eventstore import EventStore
from cpd_eventstore.db import create_pool
from entitlement import grants
from entitlement.grants import GrantRun

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/cpd_entitlement"
console = Console()


class RateColumn(ProgressColumn):
    """Teachers per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        text = "" if speed is None else f"{speed:,.0f} teachers/s"
        return Text(text, style="progress.data.speed")


def _academic_year(value: str) -> str:
    try:
        return str(TypeAdapter(AcademicYear).validate_python(value))
    except ValidationError:
        raise typer.BadParameter(f"{value!r} is no academic year: write it like 2025/26") from None


def grant(
    academic_year: Annotated[str, typer.Argument(help="e.g. 2025/26", callback=_academic_year)],
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar="CPD_ENTITLEMENT_DATABASE_URL",
            help="Entitlement's database (the one `make up` runs by default)",
        ),
    ] = DEFAULT_DATABASE_URL,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Teachers per transaction")
    ] = grants.DEFAULT_CHUNK,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="Chunks decided and appended at once")
    ] = grants.DEFAULT_WORKERS,
) -> None:
    """Grant ACADEMIC_YEAR's entitlement (hours and money) to every active teacher under the
    year's published policy: pro rata to FTE and to the part of the year registered, PP50
    premium and early-career uplift included. Idempotent: a re-run grants nobody twice."""
    metadata = Metadata(
        actor=f"cpd grant ({getpass.getuser()})",
        correlation_id=f"grant-{academic_year}",
    )

    async def main() -> GrantRun:
        try:
            pool = await create_pool(database_url, min_size=1, max_size=workers + 1)
        except Exception as error:  # unreachable, no such database, refused credentials
            console.print(
                f"[red]error:[/red] entitlement's database does not answer at {database_url}:"
                f" {error!r} (is `make up` on? or pass --database-url)"
            )
            raise typer.Exit(2) from error
        try:
            with Progress(
                TextColumn("[bold]granting {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(academic_year, total=None)

                def report(run: GrantRun) -> None:
                    progress.update(task, total=run.total or None, completed=run.teachers)

                return await grants.grant_year(
                    EventStore(pool),
                    academic_year,
                    metadata,
                    chunk_size=chunk_size,
                    workers=workers,
                    progress=report,
                )
        finally:
            await pool.close()

    try:
        run = asyncio.run(main())
    except RuleBroken as refused:
        console.print(f"[red]refused:[/red] {refused.message}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: the chunks committed so far are kept; run the same"
            " command again to grant the rest"
        )
        raise typer.Exit(130) from None
    table = Table(
        "year", "policy", "teachers", "granted", "already granted", "not eligible", "time",
        "teachers/s", title="Grant run",
    )  # fmt: skip
    rate = run.teachers / run.seconds if run.seconds else 0.0
    table.add_row(
        run.academic_year,
        f"v{run.policy_version}",
        f"{run.teachers:,}",
        f"{run.granted:,}",
        f"{run.already_granted:,}",
        f"{run.not_eligible:,}",
        f"{run.seconds:.1f} s",
        f"{rate:,.0f}",
    )
    console.print(table)
