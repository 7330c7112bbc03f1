"""Running the seed: the phases in order, against the three services' databases."""

from __future__ import annotations

import getpass
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from catalogue.projection import MIGRATIONS as CATALOGUE_MIGRATIONS
from catalogue.projection import READ_MODEL, project
from cpd_cli.seed import phases
from cpd_cli.seed.batch import Phase, PhaseReport, chunked, run_phase
from cpd_cli.seed.deliver import Delivery, await_replica, deliver
from cpd_cli.seed.world import World
from cpd_events import Metadata
from cpd_events.types import CareerStage
from cpd_eventstore import EVENTSTORE_MIGRATIONS, EventStore, Migration, migrate
from cpd_eventstore.consumer import Handler
from cpd_eventstore.db import Pool, create_pool
from entitlement import grant_runner, grants, importing
from entitlement.consumers import MIGRATIONS as ENTITLEMENT_MIGRATIONS
from entitlement.consumers import replicate_catalogue
from entitlement.domain.teacher import CourseOffer
from entitlement.importing import ImportReport
from mentoring.consumers import MIGRATIONS as MENTORING_MIGRATIONS
from mentoring.consumers import replicate
from mentoring.domain import TeacherFacts

SERVICES = ("entitlement", "catalogue", "mentoring")
MIGRATIONS: dict[str, list[Migration]] = {
    "entitlement": [*ENTITLEMENT_MIGRATIONS, *grant_runner.MIGRATIONS],
    "catalogue": list(CATALOGUE_MIGRATIONS),
    "mentoring": list(MENTORING_MIGRATIONS),
}
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:55432"
TEACHERS_PER_CHUNK = 1000
U = TypeVar("U")
P = TypeVar("P")


def default_url(service: str) -> str:
    return f"{DEFAULT_SERVER}/cpd_{service}"


class SeedDatabaseError(Exception):
    def __init__(self, service: str, url: str, error: BaseException) -> None:
        self.service = service
        super().__init__(
            f"{service}'s database does not answer at {url}: {error!r}"
            f" (is `make up` on? or pass --{service}-database-url)"
        )


#: start(phase name, total units) -> advance(units done); the CLI draws progress bars with it
Bars = Callable[[str, int | None], Callable[[int], None]]


def no_bars(_: str, __: int | None) -> Callable[[int], None]:
    return lambda _: None


@dataclass
class SeedResult:
    world: World
    today: date
    phases: list[PhaseReport] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    before: dict[str, Counter[str]] = field(default_factory=dict)
    after: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def added(self) -> dict[str, Counter[str]]:
        return {s: self.after[s] - self.before.get(s, Counter()) for s in self.after}

    @property
    def events_added(self) -> int:
        return sum(sum(c.values()) for c in self.added.values())

    @property
    def refused(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for report in self.phases:
            total.update(report.refused)
        return total

    def showcase_trust(self) -> str | None:
        """The multi-academy trust with most teachers (a dashboard worth opening)."""
        mats = [t for t in self.world.trusts if t.kind == "mat"]
        if not mats:
            return None
        staff = self.world.staff_counts
        return max(mats, key=lambda t: sum(staff[u] for u in t.schools)).trust_id


async def _counts(pool: Pool) -> Counter[str]:
    rows = await pool.fetch("select event_type, count(*) as n from es.events group by 1")
    return Counter({row["event_type"]: int(row["n"]) for row in rows})


def _import_report(report: ImportReport) -> PhaseReport:
    """An import's report as a phase's (bad rows and conflicts counted as refusals)."""
    phase = PhaseReport(report.what, units=report.rows, seconds=report.seconds)
    phase.applied, phase.unchanged, phase.skipped = report.imported, report.unchanged, 0
    phase.events = report.events
    for problem in [*report.bad, *report.conflicts]:
        for name, message in problem.problems:
            phase.refused[f"{report.what}: {name}: {message.split(':')[0][:80]}"] += 1
    return phase


async def seed(
    world: World,
    urls: dict[str, str],
    today: date,
    bars: Bars = no_bars,
    workers: int = 2,
    teachers_per_chunk: int = TEACHERS_PER_CHUNK,
    running: frozenset[str] = frozenset(),
) -> SeedResult:
    """``running``: the services up while the seed runs; their consumers replicate by
    themselves (the seed waits for them instead of delivering events in process)."""
    """Write ``world`` up to ``today`` into the three services' stores (idempotent)."""
    started = time.perf_counter()
    result = SeedResult(world, today)
    pools: dict[str, Pool] = {}
    try:
        for service in SERVICES:
            try:
                pools[service] = await create_pool(urls[service], min_size=1, max_size=workers + 2)
            except Exception as error:  # unreachable, no such database, refused credentials
                raise SeedDatabaseError(service, urls[service], error) from error
            await migrate(pools[service], "eventstore", list(EVENTSTORE_MIGRATIONS))
            await migrate(pools[service], service, MIGRATIONS[service])
            result.before[service] = await _counts(pools[service])
        await _run(world, pools, today, bars, workers, teachers_per_chunk, running, result)
        for service in SERVICES:
            result.after[service] = await _counts(pools[service])
    finally:
        for pool in pools.values():
            await pool.close()
    result.seconds = time.perf_counter() - started
    return result


async def _run(
    world: World,
    pools: dict[str, Pool],
    today: date,
    bars: Bars,
    workers: int,
    teachers_per_chunk: int,
    running: frozenset[str],
    result: SeedResult,
) -> None:
    year = world.academic_year
    meta = Metadata(
        actor=f"cpd seed ({getpass.getuser()})",
        correlation_id=f"seed-{world.seed}-{world.scale}-{year}",
    )
    catalogue = EventStore(pools["catalogue"])
    entitlement = EventStore(pools["entitlement"])
    mentoring = EventStore(pools["mentoring"])

    async def phase(
        store: EventStore,
        run: Phase[U],
        chunks: Sequence[Sequence[U]],
        label: str | None = None,
        parallel: int = 1,
    ) -> PhaseReport:
        total = sum(run.size(unit) for chunk in chunks for unit in chunk)
        report = await run_phase(
            store,
            run,
            chunks,
            meta,
            bars(label or run.name, total),
            parallel,
            PhaseReport(label or run.name),
        )
        result.phases.append(report)
        return report

    async def delivery(
        source: str,
        target: str,
        consumer: str,
        handler: Handler,
        relevant: set[str],
        needed: set[str] | None = None,
        must: bool = True,
    ) -> None:
        advance = bars(f"{source} -> {consumer}", None)
        done = 0

        def progress(read: int, _: int) -> None:
            nonlocal done
            advance(read - done)
            done = read

        if target in running:  # its consumer replicates: wait for the events needed next
            types = frozenset(needed or relevant)
            report = await await_replica(
                pools[source], pools[target], consumer, types, progress, 600 if must else 15, must
            )
        else:
            report = await deliver(
                pools[source], pools[target], consumer, handler, frozenset(relevant), progress
            )
        result.deliveries.append(report)

    async def imported(
        what: str, importer: importing.Importer[P], rows: list[tuple[int, dict[str, str]]]
    ) -> None:
        advance = bars(what, len(rows))
        report = await importing.run_import(
            entitlement, importer, rows, meta, advance, importing.CHUNK_SIZE
        )
        result.phases.append(_import_report(report))

    # the catalogue: providers first (a course is listed under a registered provider)
    await phase(catalogue, phases.provider_phase(), chunked(world.providers, 500))
    await phase(catalogue, phases.course_phase(world, today), chunked(world.courses, 500))

    # the registry, through the import path (`cpd import`)
    await imported("schools", importing.CensusSchools(world.pp50), world.school_rows())
    await imported("trusts", importing.Trusts(), world.trust_rows())
    await imported("trust members", importing.TrustMembers(), world.member_rows())
    await imported("teachers", importing.Teachers(), world.teacher_rows())

    # the year's policy and every teacher's grant (`cpd grant`)
    await phase(entitlement, phases.policy_phase(world), [[year]])
    advance = bars("grants", len(world.teachers))
    done = 0

    def granted(run: grants.GrantRun) -> None:
        nonlocal done
        advance(run.teachers - done)
        done = run.teachers

    run = await grants.grant_year(entitlement, year, meta, workers=workers, progress=granted)
    grant_report = PhaseReport(
        "grants",
        units=run.teachers,
        applied=run.granted,
        unchanged=run.already_granted,
        skipped=run.not_eligible,
        events=run.granted,
        seconds=run.seconds,
    )
    grant_report.types["EntitlementGranted"] = run.granted
    result.phases.append(grant_report)

    groups = world.chunks(teachers_per_chunk)
    await phase(entitlement, phases.leads_and_budgets_phase(world), groups, parallel=workers)
    policy = await grants.current_policy(entitlement, year)
    pence = phases.premium_pence(world, policy)
    await phase(entitlement, phases.premium_phase(world, pence), [[phases.premium_key(world)]])

    # a year of activity up to today (requests check entitlement's replica of the catalogue)
    await delivery(
        "catalogue",
        "entitlement",
        "entitlement.catalogue-replica",
        replicate_catalogue,
        {"CourseListed", "CourseUpdated", "CourseRetired", "CohortScheduled", "CohortPlaceBooked"},
    )
    offers = {
        row["course_id"]: CourseOffer(**dict(row))
        for row in await pools["entitlement"].fetch(
            "select course_id, title, price_pence, hours, retired from entitlement.courses"
        )
    }
    await phase(entitlement, phases.activity_phase(world, offers, today), groups, parallel=workers)

    # mentoring: mentors check teachers and schools against mentoring's replica of the registry
    await delivery(
        "entitlement",
        "mentoring",
        "mentoring.registry-replica",
        replicate,
        {"TeacherRegistered", "TeacherMovedSchool", "TeacherLeftProfession", "SchoolRegistered"},
        {"TeacherRegistered", "SchoolRegistered"},  # mentors and ECTs do not move or leave
    )
    trns = [t.trn for t in world.teachers]
    facts = {
        row["trn"]: TeacherFacts(
            row["trn"],
            row["school_urn"],
            CareerStage(row["career_stage"]),
            row["registered_on"],
            row["left_on"],
        )
        for row in await pools["mentoring"].fetch(
            "select trn, school_urn, career_stage, registered_on, left_on from mentoring.teachers"
            " where trn = any($1::text[])",
            trns,
        )
    }
    schools = {
        row["urn"]
        for row in await pools["mentoring"].fetch(
            "select urn from mentoring.schools where urn = any($1::text[])",
            [s.urn for s in world.schools],
        )
    }
    await phase(
        mentoring, phases.mentoring_phase(world, facts, schools, today), groups, parallel=workers
    )

    # feedback: the catalogue checks completions against its table, kept from entitlement
    await delivery(
        "entitlement",
        "catalogue",
        f"catalogue.{READ_MODEL}",
        project,
        {"CPDRequested", "CPDApproved", "CPDCompleted"},
        {"CPDCompleted"},
        must=False,  # running: feedback from the completions known so far; a re-run adds more
    )
    completions = [
        phases.Completion(row["trn"], row["course_id"], row["completed_on"])
        for row in await pools["catalogue"].fetch(
            "select trn, course_id, completed_on from catalogue.completions"
            " where trn = any($1::text[]) order by trn, course_id",
            trns,
        )
    ]
    await phase(
        catalogue, phases.feedback_phase(world, today), chunked(completions, 1000), parallel=workers
    )
