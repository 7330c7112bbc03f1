"""``cpd import``: bulk imports into the registry, straight into entitlement's event store.

The imports go through the same deciders as the HTTP API and append to entitlement's event
store in chunks of streams, one transaction each; the service's outbox relay publishes the
events afterwards as usual (the service need not run during the import). Every import is
idempotent: re-running it, also after Ctrl-C, changes nothing already imported. File formats:
see :mod:`entitlement.importing`.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
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
from cpd_eventstore import EVENTSTORE_MIGRATIONS, EventStore, migrate
from cpd_eventstore.db import create_pool
from entitlement import importing
from entitlement.importing import ImportReport

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/cpd_entitlement"
SHOWN_PROBLEMS = 50

app = typer.Typer(
    help="Bulk import into the registry (schools, trusts, teachers). Idempotent: re-running"
    " changes nothing already imported; bad rows are reported with their line numbers and the"
    " good rows go through. Exits 1 if any row was bad or conflicted.",
    no_args_is_help=True,
)
console = Console()

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="CPD_ENTITLEMENT_DATABASE_URL",
        help="Entitlement's database (the one `make up` runs by default)",
    ),
]
BadRows = Annotated[
    Path | None,
    typer.Option("--bad-rows", help="Also write every bad or conflicting row to this file"),
]
ChunkSize = Annotated[
    int, typer.Option("--chunk-size", min=1, max=10_000, help="Rows per transaction")
]


class RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def _metadata(what: str) -> Metadata:
    return Metadata(
        actor=f"cpd import {what} ({getpass.getuser()})",
        correlation_id=f"import-{what}-{uuid.uuid4().hex[:12]}",
    )


Job = Callable[[EventStore, Progress], Awaitable[list[ImportReport]]]


def _run(database_url: str, job: Job, bad_rows: Path | None) -> None:
    async def main() -> list[ImportReport]:
        try:
            pool = await create_pool(database_url, min_size=1, max_size=2)
        except Exception as error:  # unreachable, no such database, refused credentials
            console.print(
                f"[red]error:[/red] entitlement's database does not answer at {database_url}:"
                f" {error!r} (is `make up` on? or pass --database-url)"
            )
            raise typer.Exit(2) from error
        try:
            await migrate(pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
            with _progress() as progress:
                return await job(EventStore(pool), progress)
        finally:
            await pool.close()

    try:
        reports = asyncio.run(main())
    except importing.ImportFileError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: the chunks committed so far are kept; run the same"
            " command again to continue (rows already imported count as unchanged)"
        )
        raise typer.Exit(130) from None
    _summary(reports, bad_rows)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


def _summary(reports: list[ImportReport], bad_rows: Path | None) -> None:
    columns = ["import", "rows", "imported", "unchanged", "skipped", "conflicts", "bad rows"]
    table = Table(*columns, "events", "time", "rows/s", title="Import summary")
    for r in reports:
        rate = r.rows / r.seconds if r.seconds else 0.0
        table.add_row(
            r.what,
            f"{r.rows:,}",
            f"{r.imported:,}",
            f"{r.unchanged:,}",
            f"{r.skipped:,}",
            f"[red]{len(r.conflicts):,}[/red]" if r.conflicts else "0",
            f"[red]{len(r.bad):,}[/red]" if r.bad else "0",
            f"{r.events:,}",
            f"{r.seconds:.1f} s",
            f"{rate:,.0f}",
        )
    console.print(table)
    problems = [
        (kind, str(p))
        for r in reports
        for kind, items in (("bad", r.bad), ("conflict", r.conflicts))
        for p in items
    ]
    for kind, text in problems[:SHOWN_PROBLEMS]:
        colour = "red" if kind == "bad" else "yellow"
        console.print(f"[{colour}]{kind}[/{colour}] {text}", highlight=False, soft_wrap=True)
    if len(problems) > SHOWN_PROBLEMS:
        more = len(problems) - SHOWN_PROBLEMS
        hint = "" if bad_rows else " (--bad-rows FILE writes them all)"
        console.print(f"... and {more:,} more{hint}")
    if bad_rows is not None:
        bad_rows.write_text("".join(f"{kind}\t{text}\n" for kind, text in problems))
        console.print(f"{len(problems):,} problem row(s) written to {bad_rows}")


@app.command(
    "schools",
    help=(
        "Register the state-funded schools of the school census, with their PP50 membership."
        "\n\nDefaults: the DfE school census 2022/23 and the PP50 list shipped with entitlement"
        " (entitlement/data/README.md: source and licence). Independent and other school types"
        " and the national totals are skipped."
    ),
)
def schools(
    census: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="School census CSV (DfE)")
    ] = importing.CENSUS,
    pp50: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="PP50 list: a CSV with a urn column")
    ] = importing.PP50,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    bad_rows: BadRows = None,
    chunk_size: ChunkSize = importing.CHUNK_SIZE,
) -> None:
    async def job(store: EventStore, progress: Progress) -> list[ImportReport]:
        task = progress.add_task("schools", total=importing.count_rows(census))
        report = await importing.import_schools(
            store,
            _metadata("schools"),
            census,
            pp50,
            lambda n: progress.advance(task, n),
            chunk_size,
        )
        return [report]

    _run(database_url, job, bad_rows)


@app.command(
    "trusts",
    help=(
        "Register trusts (and their funding model), then the schools joining them (--members)."
        "\n\nfunding_model: centralised (central share 100), delegated (0) or hybrid with a"
        " central_share_percent strictly between 0 and 100, from funding_effective_from."
        " A school is in at most one trust: joining while in another is a conflict."
    ),
)
def trusts(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV: trust_id,name,region[,companies_house_number][,funding_model,"
            "central_share_percent,funding_effective_from]",
        ),
    ],
    members: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="CSV: trust_id,urn,joined_on (YYYY-MM-DD): schools joining the trusts",
        ),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    bad_rows: BadRows = None,
    chunk_size: ChunkSize = importing.CHUNK_SIZE,
) -> None:
    async def job(store: EventStore, progress: Progress) -> list[ImportReport]:
        trust_task = progress.add_task("trusts", total=importing.count_rows(file))
        members_total = importing.count_rows(members) if members is not None else 0
        member_task = progress.add_task("trust members", total=members_total, visible=bool(members))
        trust_report, member_report = await importing.import_trusts(
            store,
            _metadata("trusts"),
            file,
            members,
            lambda n: progress.advance(trust_task, n),
            chunk_size,
            lambda n: progress.advance(member_task, n),
        )
        return [trust_report] + ([member_report] if member_report else [])

    _run(database_url, job, bad_rows)


@app.command(
    "teachers",
    help=(
        "Register teachers at registered schools.\n\ncareer_stage: trainee, ect_year_1,"
        " ect_year_2, early_career, experienced, middle_leader or senior_leader. fte: percentage"
        " of full time (100 = full time). registered_on: YYYY-MM-DD."
    ),
)
def teachers(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV: trn,school_urn,given_name,family_name,career_stage,fte,registered_on",
        ),
    ],
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    bad_rows: BadRows = None,
    chunk_size: ChunkSize = importing.CHUNK_SIZE,
) -> None:
    async def job(store: EventStore, progress: Progress) -> list[ImportReport]:
        task = progress.add_task("teachers", total=importing.count_rows(file))
        report = await importing.import_teachers(
            store, _metadata("teachers"), file, lambda n: progress.advance(task, n), chunk_size
        )
        return [report]

    _run(database_url, job, bad_rows)
