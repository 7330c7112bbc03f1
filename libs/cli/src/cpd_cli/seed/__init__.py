"""``cpd seed``: a realistic national year, generated from the real school census.

Deterministic (``--seed``): the same seed, scale and academic year write the same events with the
same ids. ``--scale`` chooses a share of the country (0.01: about 220 schools and 4,500
teachers, seconds; 1: about 22,000 schools, 470,000 teachers and 10-15 million events). Every
write goes through the services' deciders and event stores in chunks (see
:mod:`cpd_cli.seed.phases`), straight into the three services' databases; the services' relays
publish the events as usual. Idempotent: a re-run, also after Ctrl-C, appends nothing twice and
carries on where the last one stopped; re-run on a later day, it adds what happened since.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Annotated

import httpx
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

from cpd_cli.client import service_url
from cpd_cli.seed.deliver import ReplicaTimeout
from cpd_cli.seed.runner import SERVICES, SeedDatabaseError, SeedResult, default_url
from cpd_cli.seed.runner import seed as run_seed
from cpd_cli.seed.world import World
from cpd_events.decider import RuleBroken
from cpd_events.types import AcademicYear, academic_year_of
from cpd_eventstore.errors import ConcurrencyError, PartiallyStoredError
from entitlement.teacher_app import today as england_today

console = Console()
SHOWN_REFUSALS = 12


class RateColumn(ProgressColumn):
    """Units per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def progress_bars(console: Console = console) -> Progress:
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


def check_year(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(TypeAdapter(AcademicYear).validate_python(value))
    except ValidationError:
        raise typer.BadParameter(f"{value!r} is no academic year: write it like 2026/27") from None


def resolve_dates(academic_year: str | None, today: date | None) -> tuple[str, date]:
    """The academic year (today's by default) and the last day written (today, or the year's
    last day for a past year). Refuses a day in the future: the deciders judge "not in the
    future" against it."""
    real_today = england_today()
    year = academic_year or academic_year_of(today or real_today)
    last = today or real_today
    if last > real_today:
        raise typer.BadParameter(f"--today {last} is in the future (today is {real_today})")
    first_day = date(int(year[:4]), 9, 1)
    if last < first_day:
        raise typer.BadParameter(
            f"academic year {year} starts on {first_day}, after {last}: nothing has happened yet"
        )
    return year, min(last, date(int(year[:4]) + 1, 8, 31))


def seed(
    scale: Annotated[
        float,
        typer.Option(min=0.0001, max=1.0, help="Share of the country: 0.01 demo (seconds) to 1"),
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same")] = 42,
    academic_year: Annotated[
        str | None,
        typer.Option(callback=check_year, help="e.g. 2026/27 (default: the current one)"),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(help="Write activity up to this day, YYYY-MM-DD (default: today)"),
    ] = None,
    entitlement_database_url: Annotated[
        str, typer.Option(envvar="CPD_ENTITLEMENT_DATABASE_URL", help="Entitlement's database")
    ] = default_url("entitlement"),
    catalogue_database_url: Annotated[
        str, typer.Option(envvar="CPD_CATALOGUE_DATABASE_URL", help="The catalogue's database")
    ] = default_url("catalogue"),
    mentoring_database_url: Annotated[
        str, typer.Option(envvar="CPD_MENTORING_DATABASE_URL", help="Mentoring's database")
    ] = default_url("mentoring"),
    workers: Annotated[int, typer.Option(min=1, max=8, help="Chunks written at once")] = 2,
    replicas: Annotated[
        str,
        typer.Option(
            help="How the services' replicas get the seeded events: 'wait' for the running"
            " services' consumers, 'deliver' them in process (platform down), or 'auto':"
            " wait for each service that answers at its URL (CPD_<SERVICE>_URL)",
        ),
    ] = "auto",
) -> None:
    """Seed a realistic year: real schools, generated trusts, teachers and their CPD.

    Schools come from the DfE school census (state-funded, with pupils, phase, region and
    disadvantage) and the PP50 list; trusts, teachers, courses besides the real NPQs, and a
    year of requests, approvals, hours, mentoring, moves and feedback are generated. Every write
    goes through the services' deciders; a re-run (also after Ctrl-C) appends nothing twice.
    The default databases are the ones `make up` runs.
    """
    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        raise typer.BadParameter(
            f"--today {today!r} is no date: write it like 2026-11-30"
        ) from None
    year, last = resolve_dates(academic_year, day)
    if replicas not in ("auto", "wait", "deliver"):
        raise typer.BadParameter(f"--replicas {replicas!r}: auto, wait or deliver")
    running = frozenset(SERVICES) if replicas == "wait" else frozenset()
    if replicas == "auto":
        running = frozenset(s for s in SERVICES if _answers(service_url(s)))
    urls = {
        "entitlement": entitlement_database_url,
        "catalogue": catalogue_database_url,
        "mentoring": mentoring_database_url,
    }
    with console.status("reading the school census..."):
        world = World(seed, scale, year)
    console.print(describe(world, last))
    try:
        result = seed_with_progress(world, urls, last, workers, running)
    except SeedDatabaseError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except (ConcurrencyError, PartiallyStoredError) as error:
        console.print(f"[red]error:[/red] other writers keep changing the same streams: {error}")
        raise typer.Exit(1) from None
    except RuleBroken as refused:
        console.print(f"[red]refused:[/red] {refused.message}")
        raise typer.Exit(1) from None
    except ReplicaTimeout as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: the chunks committed so far are kept; run the same"
            " command again to carry on (what is written already is left as it is)"
        )
        raise typer.Exit(130) from None
    print_summary(result)


def describe(world: World, last: date) -> str:
    ects = sum(1 for t in world.teachers if t.career_stage.value.startswith("ect"))
    mats = sum(1 for t in world.trusts if t.kind == "mat")
    return (
        f"seed {world.seed}, scale {world.scale:g}, {world.academic_year} up to {last}:"
        f" {len(world.schools):,} schools, {mats:,} multi-academy and"
        f" {len(world.trusts) - mats:,} single-academy trusts, {len(world.teachers):,} teachers"
        f" ({ects:,} ECTs), {len(world.courses):,} courses"
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def seed_with_progress(
    world: World,
    urls: dict[str, str],
    last: date,
    workers: int = 2,
    running: frozenset[str] = frozenset(),
) -> SeedResult:
    with progress_bars() as progress:

        def bars(name: str, total: int | None) -> Callable[[int], None]:
            task = progress.add_task(name, total=total)

            def advance(units: int) -> None:
                progress.advance(task, units)

            return advance

        return asyncio.run(run_seed(world, urls, last, bars, workers, running=running))


def print_summary(result: SeedResult, console: Console = console) -> None:
    table = Table(
        "phase",
        "units",
        "written",
        "unchanged",
        "skipped",
        "refused",
        "events",
        "time",
        "events/s",
        title="Seed phases",
    )
    for r in result.phases:
        rate = r.events / r.seconds if r.seconds else 0.0
        refused = sum(r.refused.values())
        table.add_row(
            r.name,
            f"{r.units:,}",
            f"{r.applied:,}",
            f"{r.unchanged:,}",
            f"{r.skipped:,}",
            f"[yellow]{refused:,}[/yellow]" if refused else "0",
            f"{r.events:,}",
            f"{r.seconds:.1f} s",
            f"{rate:,.0f}",
        )
    for d in result.deliveries:
        table.add_row(
            f"{d.consumer} (delivered)",
            f"{d.read:,}",
            f"{d.applied:,}",
            f"{d.duplicates:,}",
            f"{d.held:,}",
            "0",
            "",
            f"{d.seconds:.1f} s",
            "",
        )
    console.print(table)
    types = Table("store", "event type", "added", "in the store", title="Events by type")
    for service in SERVICES:
        added: Counter[str] = result.added.get(service, Counter())
        after: Counter[str] = result.after.get(service, Counter())
        for event_type in sorted(after):
            types.add_row(
                service, event_type, f"{added.get(event_type, 0):,}", f"{after[event_type]:,}"
            )
    console.print(types)
    refusals = result.refused
    if refusals:
        console.print(
            "Refused by the rules (nothing written for these; most are expected, e.g."
            " approvals a budget cannot pay for, declined instead):"
        )
        for reason, count in refusals.most_common(SHOWN_REFUSALS):
            console.print(f"  {count:>8,}  {reason}", highlight=False, soft_wrap=True)
    rate = result.events_added / result.seconds if result.seconds else 0.0
    console.print(
        f"[green]seeded[/green] {result.events_added:,} events in {result.seconds:.1f} s"
        f" ({rate:,.0f} events/s); re-running changes nothing"
    )


def seed_for_up(database_of: Callable[[str], str], reporting_url: str, scale: float) -> None:
    """`cpd up`'s seed: a small realistic current year (idempotent, seconds at 0.01).

    A failure is reported and the platform keeps running (the seed can be run again with
    `cpd seed`)."""
    try:
        year, last = resolve_dates(None, None)
        with console.status("reading the school census..."):
            world = World(42, scale, year)
        console.print(describe(world, last))
        urls = {service: database_of(service) for service in SERVICES}
        # the services run: their consumers replicate, the seed waits for them
        result = seed_with_progress(world, urls, last, running=frozenset(SERVICES))
    except Exception as error:  # the platform runs on; `cpd seed` carries on later
        console.print(f"[yellow]the seed stopped:[/yellow] {error!r} (run `cpd seed` to carry on)")
        return
    rate = result.events_added / result.seconds if result.seconds else 0.0
    console.print(
        f"seed: {result.events_added:,} events added in {result.seconds:.1f} s"
        f" ({rate:,.0f} events/s; `cpd seed --scale {scale:g}` prints the full summary)"
    )
    trust = result.showcase_trust()
    console.print(f"National dashboard: {reporting_url}/areas/nation?academic_year={year}")
    if trust is not None:
        console.print(f"A trust's dashboard: {reporting_url}/trusts/{trust}/dashboard")
