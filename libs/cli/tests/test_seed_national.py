"""``cpd seed``: a small-scale year against real PostgreSQL, three service databases.

Deterministic (two runs on fresh databases write the same event ids), idempotent (a re-run
appends nothing), within the rules (no budget or entitlement below zero, at most 12 hours a day,
nothing in the future, every ECT mentored, feedback only after completion, funding committed
with every paid approval), and an interrupted run resumes to the same result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date

import asyncpg
import pytest
from typer.testing import CliRunner

from cpd_cli.main import app
from cpd_cli.seed.calendar import SchoolYear
from cpd_cli.seed.runner import SERVICES, SeedDatabaseError, seed
from cpd_cli.seed.world import ECTS, World
from cpd_events import REGISTRY, Event
from cpd_events.catalogue_events import CourseFeedbackSubmitted
from cpd_events.entitlement_events import CPDApproved, CPDCompleted, FundingCommitted
from cpd_events.types import MentoringProgramme
from cpd_platform.testing import Infrastructure, create_database, drop_database
from entitlement.domain.budget import budget_decider
from entitlement.domain.teacher import MAX_HOURS_PER_DAY, funding_left, teacher_decider
from mentoring.domain import mentee_decider

YEAR = "2025/26"
TODAY = date(2025, 12, 5)
SCALE = 0.002

Urls = dict[str, str]
Listing = dict[str, list[tuple[str, str, int, str]]]


# --- pure: the world and the calendar -----------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> World:
    return World(42, SCALE, YEAR)


def test_the_world_is_national_in_shape(world: World) -> None:
    # trusts are formed over the whole census, whatever the scale
    mats = [t for t in world.all_trusts if t.kind == "mat"]
    sizes = [len(t.schools) for t in mats]
    assert 1_100 <= len(mats) <= 1_600
    assert sum(size <= 10 for size in sizes) / len(sizes) > 0.7  # most run 1-10 schools
    assert sum(size >= 30 for size in sizes) >= 10  # a few run 30 or more
    assert 800 <= len(world.all_trusts) - len(mats) <= 1_300  # single-academy trusts
    assert 440_000 <= sum(world.staff_counts.values()) <= 500_000  # teachers nationally
    # this scale: a share of the schools, all their teachers, every ECT with a mentor
    assert 20 <= len(world.schools) <= 100
    mentored = {m for plans in world.mentors_of.values() for plan in plans for m in plan.mentees}
    ects = {t.trn for t in world.teachers if t.career_stage in ECTS}
    assert ects
    assert mentored == ects


def test_scales_nest_and_generation_is_deterministic(world: World) -> None:
    larger = World(42, 0.01, YEAR)
    assert {s.urn for s in world.schools} <= {s.urn for s in larger.schools}
    assert {t.trn for t in world.teachers} <= {t.trn for t in larger.teachers}
    teacher = world.teachers[7]
    assert larger.plan(larger.teacher[teacher.trn]) == world.plan(teacher)
    other = World(43, SCALE, YEAR)
    assert {s.urn for s in other.schools} != {s.urn for s in world.schools}


def test_activity_follows_the_school_calendar(world: World) -> None:
    calendar = SchoolYear(YEAR)
    school_days = set(calendar.school_days)
    autumn, spring, _summer = calendar.terms
    assert autumn.half_term == date(2025, 10, 27)
    assert spring.half_term == date(2026, 2, 16)
    assert not any(autumn.half_term <= d < date(2025, 11, 3) for d in school_days)
    assert not any(date(2025, 12, 20) <= d < date(2026, 1, 5) for d in school_days)
    assert not any(date(2026, 4, 1) <= d < date(2026, 4, 13) for d in school_days)
    assert all(d.weekday() < 5 for d in school_days)
    months: dict[int, int] = {}
    for teacher in world.teachers[:300]:
        for action in world.plan(teacher):
            if action.kind == "hours":
                assert action.day in school_days, action
                months[action.day.month] = months.get(action.day.month, 0) + 1
    assert months.get(8, 0) == 0  # the summer holiday
    assert months[9] > months[12]  # September (a whole month, INSET days) beats December


# --- against PostgreSQL ------------------------------------------------------------------------


async def _databases(infra: Infrastructure) -> Urls:
    return {service: await create_database(infra.postgres_url) for service in SERVICES}


async def _drop(infra: Infrastructure, urls: Urls) -> None:
    for url in urls.values():
        await drop_database(infra.postgres_url, url)


async def _listing(urls: Urls) -> Listing:
    found: Listing = {}
    for service, url in urls.items():
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "select event_id::text, stream_id, stream_version, event_type from es.events"
                " order by stream_id, stream_version"
            )
        finally:
            await conn.close()
        found[service] = [
            (row["event_id"], row["stream_id"], row["stream_version"], row["event_type"])
            for row in rows
        ]
    return found


async def _streams(url: str, prefix: str) -> dict[str, list[Event]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "select stream_id, event_type, schema_version, data from es.events"
            " where stream_id like $1 order by stream_id, stream_version",
            prefix + "%",
        )
    finally:
        await conn.close()
    streams: dict[str, list[Event]] = {}
    for row in rows:
        data = row["data"]
        event = REGISTRY.decode(
            row["event_type"],
            row["schema_version"],
            json.loads(data) if isinstance(data, str) else data,
        )
        streams.setdefault(row["stream_id"], []).append(event)
    return streams


class Interrupted(Exception):
    pass


def _interrupt_in(phase: str, after: int) -> Callable[[str, int | None], Callable[[int], None]]:
    """Progress bars that stop the run once ``phase`` has committed ``after`` chunks."""

    def bars(name: str, _: int | None) -> Callable[[int], None]:
        calls = 0

        def advance(__: int) -> None:
            nonlocal calls
            calls += 1
            if name == phase and calls >= after:
                raise Interrupted

        return advance

    return bars


@pytest.fixture(scope="module")
async def reference(infra: Infrastructure, world: World) -> AsyncIterator[tuple[Urls, Listing]]:
    """One complete run, kept for the module's tests."""
    urls = await _databases(infra)
    result = await seed(world, urls, TODAY)
    assert result.events_added > 5_000
    yield urls, await _listing(urls)
    await _drop(infra, urls)


async def test_a_rerun_appends_nothing(reference: tuple[Urls, Listing], world: World) -> None:
    urls, before = reference
    again = await seed(world, urls, TODAY)
    assert again.events_added == 0
    assert all(report.events == 0 for report in again.phases)
    assert await _listing(urls) == before


async def test_two_runs_write_the_same_event_ids(
    infra: Infrastructure, reference: tuple[Urls, Listing], world: World
) -> None:
    urls = await _databases(infra)
    try:
        await seed(World(42, SCALE, YEAR), urls, TODAY)
        assert await _listing(urls) == reference[1]
    finally:
        await _drop(infra, urls)


async def test_an_interrupted_run_resumes(
    infra: Infrastructure, reference: tuple[Urls, Listing], world: World
) -> None:
    urls = await _databases(infra)
    try:
        with pytest.raises(Interrupted):
            await seed(
                world, urls, TODAY, _interrupt_in("activity", 1), workers=2, teachers_per_chunk=150
            )
        partial = await _listing(urls)
        assert 0 < len(partial["entitlement"]) < len(reference[1]["entitlement"])
        assert partial["mentoring"] == []  # stopped before mentoring
        await _check_rules(urls)  # nothing half-written: every chunk is all or nothing
        resumed = await seed(world, urls, TODAY)
        assert resumed.events_added > 0
        assert await _listing(urls) == reference[1]
    finally:
        await _drop(infra, urls)


async def test_the_seeded_year_keeps_the_rules(reference: tuple[Urls, Listing]) -> None:
    counts = await _check_rules(reference[0])
    assert counts["approved"] > 50
    assert counts["completed"] > 20
    assert counts["feedback"] > 5
    assert counts["ects"] > 10
    assert counts["sessions"] > counts["ects"] * 5


async def _check_rules(urls: Urls) -> dict[str, int]:
    """The rules the deciders keep, checked on what is stored."""
    counts = dict.fromkeys(("approved", "completed", "feedback", "ects", "sessions"), 0)
    budgets = await _streams(urls["entitlement"], "budget-")
    commitments: set[tuple[str, str]] = set()
    for stream, events in budgets.items():
        budget = budget_decider.fold(events)
        assert budget.committed >= 0, stream
        assert budget.spent >= 0, stream
        assert budget.available >= 0, f"{stream} overspent: {budget}"
        commitments |= {
            (e.budget_id, e.request_id) for e in events if isinstance(e, FundingCommitted)
        }
    completed: set[tuple[str, str]] = set()
    teachers = await _streams(urls["entitlement"], "teacher-")
    for stream, events in teachers.items():
        teacher = teacher_decider.fold(events)
        assert funding_left(teacher, YEAR) >= 0, stream
        days = {entry.activity_date for entry in teacher.logs.values()}
        for day in days:
            assert teacher.hours_on(day) <= MAX_HOURS_PER_DAY, (stream, day)
            assert date(2025, 9, 1) <= day <= TODAY, (stream, day)
        for event in events:
            if isinstance(event, CPDApproved):
                counts["approved"] += 1
                for share in event.funding:  # the approval and its funding: one write
                    assert (share.budget_id, event.request_id) in commitments, event
            if isinstance(event, CPDCompleted):
                counts["completed"] += 1
                assert event.completed_on <= TODAY
                completed.add((event.trn, event.course_id))
    for events in (await _streams(urls["catalogue"], "feedback-")).values():
        for event in events:
            assert isinstance(event, CourseFeedbackSubmitted)
            assert (event.trn, event.course_id) in completed
            counts["feedback"] += 1
    mentees = await _streams(urls["mentoring"], "mentee-")
    for stream, events in mentees.items():
        mentee = mentee_decider.fold(events)
        assert mentee.active_on(MentoringProgramme.EARLY_CAREER_INDUCTION) is not None, stream
    for stream, events in teachers.items():
        teacher = teacher_decider.fold(events)
        if teacher.career_stage in ECTS:
            counts["ects"] += 1
            if mentees:  # a run stopped before mentoring has none yet
                assert f"mentee-{teacher.trn}" in mentees, stream
    mentors = await _streams(urls["mentoring"], "mentor-")
    counts["sessions"] = sum(
        1 for events in mentors.values() for e in events if e.event_type == "MentoringSessionLogged"
    )
    return counts


# --- the command -------------------------------------------------------------------------------


def test_the_command_refuses_bad_input() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["seed", "--scale", "2"])
    assert result.exit_code == 2
    assert "scale" in result.output.lower()
    result = runner.invoke(app, ["seed", "--academic-year", "2025/27"])
    assert result.exit_code == 2
    assert "academic year" in result.output
    result = runner.invoke(app, ["seed", "--today", "2999-01-01", "--academic-year", "2998/99"])
    assert result.exit_code == 2
    assert "future" in result.output
    result = runner.invoke(
        app,
        ["seed", "--scale", "0.001", "--academic-year", YEAR, "--today", "2025-10-01"]
        + [f"--{s}-database-url=postgresql://nobody@127.0.0.1:1/none" for s in SERVICES],
    )
    assert result.exit_code == 2, result.output
    assert "does not answer" in result.output


def test_an_unreachable_database_is_named() -> None:
    error = SeedDatabaseError("mentoring", "postgresql://x/y", OSError("refused"))
    assert "mentoring's database" in str(error)
    assert "--mentoring-database-url" in str(error)
