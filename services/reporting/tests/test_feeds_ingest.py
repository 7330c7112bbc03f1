"""The feed projection on a real PostgreSQL: which trust sees which event, late memberships,
personal data, and gap-safe pages under concurrent writers."""

from __future__ import annotations

import asyncio
import random
from datetime import date
from decimal import Decimal

import pytest

from cpd_events.catalogue_events import CourseFeedbackSubmitted
from cpd_events.entitlement_events import FundingSpent
from cpd_events.mentoring_events import MentorTrainingCompleted
from cpd_events.registry_events import TeacherLeftProfession, TeacherMovedSchool
from cpd_eventstore.db import Pool
from reporting.feeds.cursor import START, decode_cursor
from reporting.feeds.ingest import FeedProjection
from reporting.feeds.reader import read_feed

from .test_feeds_support import (
    SCHOOL_A,
    SCHOOL_B,
    TEACHER,
    TRUST_A,
    TRUST_B,
    YEAR,
    Streams,
    apply,
    hours_logged,
    joined,
    left,
    migrated,
    read_all,
    settled,
    two_trusts,
    types_of,
)

pytestmark = pytest.mark.integration

TEACHER_STREAM = f"teacher-{TEACHER}"


@pytest.fixture
async def db(pool: Pool) -> Pool:
    return await migrated(pool)


async def test_a_trust_sees_its_own_registry_events_and_its_schools_staff(db: Pool) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))

    a, b = await read_all(db, TRUST_A), await read_all(db, TRUST_B)

    assert types_of(a) == [
        "TrustRegistered",
        "SchoolJoinedTrust",
        "TeacherRegistered",
    ]
    assert types_of(b) == ["TrustRegistered", "SchoolJoinedTrust"]
    assert a[2].data["given_name"] == "Ada"  # the employer sees its staff's names and TRN
    assert a[2].data["trn"] == TEACHER
    assert a[2].school_urn == SCHOOL_A
    assert [i.stream_version for i in a] == [1, 1, 1]


async def test_a_school_changing_trust_mid_year_counts_for_each_trust_on_its_dates(
    db: Pool,
) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    school = f"school-{SCHOOL_A}"
    await apply(
        db,
        [
            streams(
                TEACHER_STREAM,
                hours_logged("before", SCHOOL_A, date(2025, 12, 15)),
                date(2025, 12, 15),
            ),
            streams(
                school, left(SCHOOL_A, TRUST_A, date(2026, 1, 1), "rebrokered"), date(2025, 12, 20)
            ),
            streams(school, joined(SCHOOL_A, TRUST_B, date(2026, 1, 1)), date(2025, 12, 20)),
            streams(
                TEACHER_STREAM,
                hours_logged("new-year", SCHOOL_A, date(2026, 1, 1)),
                date(2026, 1, 1),
            ),
            streams(
                TEACHER_STREAM, hours_logged("after", SCHOOL_A, date(2026, 1, 5)), date(2026, 1, 5)
            ),
        ],
    )

    a, b = await read_all(db, TRUST_A), await read_all(db, TRUST_B)

    assert [i.data.get("log_id") for i in a if i.event_type == "HoursLogged"] == ["before"]
    assert [i.data.get("log_id") for i in b if i.event_type == "HoursLogged"] == [
        "new-year",
        "after",
    ]
    left_item = next(i for i in a if i.event_type == "SchoolLeftTrust")
    assert left_item.data["reason"] == "rebrokered"  # an organisation's reason is kept
    assert "SchoolLeftTrust" not in types_of(b)
    assert types_of(b).count("SchoolJoinedTrust") == 2


async def test_a_teacher_who_moves_trust_leaves_the_old_feed_after_the_move(db: Pool) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    move = date(2026, 2, 1)
    await apply(
        db,
        [
            streams(
                TEACHER_STREAM, hours_logged("at-a", SCHOOL_A, date(2026, 1, 10)), date(2026, 1, 10)
            ),
            streams(
                f"mentor-{TEACHER}",
                MentorTrainingCompleted(
                    trn=TEACHER, course_id="mt-1", completed_on=date(2026, 1, 20), hours=Decimal(6)
                ),
                date(2026, 1, 20),
            ),
            streams(
                TEACHER_STREAM,
                TeacherMovedSchool(
                    trn=TEACHER, from_school_urn=SCHOOL_A, school_urn=SCHOOL_B, moved_on=move
                ),
                date(2026, 1, 25),
            ),
            streams(
                TEACHER_STREAM, hours_logged("at-b", SCHOOL_B, date(2026, 2, 10)), date(2026, 2, 10)
            ),
            streams(
                f"mentor-{TEACHER}",
                MentorTrainingCompleted(
                    trn=TEACHER, course_id="mt-2", completed_on=date(2026, 3, 1), hours=Decimal(6)
                ),
                date(2026, 3, 1),
            ),
        ],
    )

    a, b = await read_all(db, TRUST_A), await read_all(db, TRUST_B)

    assert "TeacherMovedSchool" in types_of(a)  # both trusts learn of the move
    assert "TeacherMovedSchool" in types_of(b)
    assert [i.data.get("log_id") for i in a if i.event_type == "HoursLogged"] == ["at-a"]
    assert [i.data.get("log_id") for i in b if i.event_type == "HoursLogged"] == ["at-b"]
    # an event naming only the teacher goes where the teacher was on its date
    assert [i.data["course_id"] for i in a if i.event_type == "MentorTrainingCompleted"] == ["mt-1"]
    assert [i.data["course_id"] for i in b if i.event_type == "MentorTrainingCompleted"] == ["mt-2"]
    assert not [i for i in a if i.occurred_at.date() >= move and i.data.get("trn") == TEACHER]


async def test_an_event_naming_the_old_trust_after_a_move_reaches_it_without_the_teacher(
    db: Pool,
) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    await apply(
        db,
        [
            streams(
                TEACHER_STREAM,
                TeacherMovedSchool(
                    trn=TEACHER,
                    from_school_urn=SCHOOL_A,
                    school_urn=SCHOOL_B,
                    moved_on=date(2026, 2, 1),
                ),
                date(2026, 2, 1),
            ),
            streams(
                "budget-a-central",
                FundingSpent(
                    budget_id="a-central",
                    request_id="req-1",
                    trn=TEACHER,
                    school_urn=SCHOOL_B,
                    trust_id=TRUST_A,
                    academic_year=YEAR,
                    amount_pence=50_000,
                ),
                date(2026, 3, 1),
            ),
        ],
    )

    spent_a = next(i for i in await read_all(db, TRUST_A) if i.event_type == "FundingSpent")
    spent_b = next(i for i in await read_all(db, TRUST_B) if i.event_type == "FundingSpent")

    assert spent_a.data["amount_pence"] == 50_000
    assert "trn" not in spent_a.data  # A pays, but is no longer the teacher's employer
    assert spent_b.data["trn"] == TEACHER  # B employs the teacher now


async def test_a_membership_arriving_late_appends_the_schools_earlier_events_once(
    db: Pool,
) -> None:
    streams = Streams()
    late_school = "100009"
    early = [
        streams(
            "teacher-7654321", hours_logged("l1", late_school, date(2025, 10, 1)), date(2025, 10, 1)
        ),
        streams(
            "teacher-7654321", hours_logged("l2", late_school, date(2025, 11, 1)), date(2025, 11, 1)
        ),
        streams(
            "teacher-7654321", hours_logged("l0", late_school, date(2025, 8, 1)), date(2025, 8, 1)
        ),
    ]
    await apply(db, two_trusts(streams))
    await apply(db, early)
    before = await read_all(db, TRUST_A)
    assert not [i for i in before if i.school_urn == late_school]

    joined_late = streams(
        f"school-{late_school}", joined(late_school, TRUST_A, date(2025, 9, 1)), date(2025, 9, 1)
    )
    await apply(db, [joined_late])
    await apply(db, [joined_late])  # a redelivery changes nothing
    await apply(
        db,
        [
            streams(
                f"school-{late_school}",
                joined(late_school, TRUST_A, date(2025, 9, 15)),
                date(2025, 9, 15),
            )
        ],
    )

    after = await read_all(db, TRUST_A)
    assert after[: len(before)] == before  # appended, never inserted in the middle
    appended = after[len(before) :]
    assert [i.data.get("log_id") for i in appended if i.event_type == "HoursLogged"] == ["l1", "l2"]
    assert len({i.event_id for i in after}) == len(after)

    # a leave that arrives late does not take back what the feed already said
    await apply(
        db,
        [
            streams(
                f"school-{late_school}",
                left(late_school, TRUST_A, date(2025, 10, 15)),
                date(2025, 10, 15),
            )
        ],
    )
    final = await read_all(db, TRUST_A)
    assert [i.data.get("log_id") for i in final if i.event_type == "HoursLogged"] == ["l1", "l2"]


async def test_personal_free_text_never_reaches_a_feed(db: Pool) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    await apply(
        db,
        [
            streams(
                TEACHER_STREAM,
                hours_logged(
                    "private",
                    SCHOOL_A,
                    date(2025, 10, 1),
                    description="Course on my anxiety",
                    reflection="I struggled this term",
                    evidence_url="https://drive.example/me.pdf",
                ),
                date(2025, 10, 1),
            ),
            streams(
                f"feedback-c1-{TEACHER}",
                CourseFeedbackSubmitted(course_id="c1", trn=TEACHER, rating=2, impact_note="meh"),
                date(2025, 10, 2),
            ),
            streams(
                TEACHER_STREAM,
                TeacherLeftProfession(
                    trn=TEACHER, school_urn=SCHOOL_A, left_on=date(2025, 12, 31), reason="illness"
                ),
                date(2025, 12, 1),
            ),
        ],
    )

    items = await read_all(db, TRUST_A)
    logged = next(i for i in items if i.event_type == "HoursLogged")
    gone = next(i for i in items if i.event_type == "TeacherLeftProfession")

    assert logged.data["hours"] == "1.50"
    assert logged.data["trn"] == TEACHER
    assert not {"description", "reflection", "evidence_url"} & logged.data.keys()
    assert "reason" not in gone.data
    assert "CourseFeedbackSubmitted" not in types_of(items)
    row = await db.fetchrow(
        "select data::text from reporting_feed.events where event_id = $1", logged.event_id
    )
    assert row is not None
    assert "anxiety" not in row[0]  # not stored either


async def test_pages_are_stable_when_transactions_commit_out_of_order(db: Pool) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    first = await read_feed(db, TRUST_A, START, 100)
    cursor = decode_cursor(first.next_cursor)

    slow_batch = [
        streams(
            "teacher-1111111", hours_logged("slow", SCHOOL_A, date(2025, 10, 1)), date(2025, 10, 1)
        )
    ]
    fast_batch = [
        streams(
            "teacher-2222222", hours_logged("fast", SCHOOL_A, date(2025, 10, 2)), date(2025, 10, 2)
        )
    ]
    async with db.acquire() as slow:
        transaction = slow.transaction()
        await transaction.start()
        await FeedProjection().apply(slow, slow_batch)  # takes its positions first...
        await apply(db, fast_batch)  # ...but commits after this one

        while_open = await read_feed(db, TRUST_A, cursor, 100)
        assert while_open.items == []  # the fast entry waits for the slow transaction
        assert while_open.next_cursor == first.next_cursor
        await transaction.commit()

    await settled(db)
    page = await read_feed(db, TRUST_A, cursor, 1)
    rest = await read_feed(db, TRUST_A, decode_cursor(page.next_cursor), 100)
    got = [i.data["log_id"] for i in page.items + rest.items]
    assert got == ["slow", "fast"]
    assert page.has_more
    assert not rest.has_more


async def test_no_entry_is_skipped_or_repeated_while_writers_race_a_reader(db: Pool) -> None:
    streams = Streams()
    await apply(db, two_trusts(streams))
    batches = [
        [
            streams(
                f"teacher-{3000000 + n:07d}",
                hours_logged(f"w{n}-{k}", SCHOOL_A, date(2025, 10, 1)),
                date(2025, 10, 1),
            )
            for k in range(3)
        ]
        for n in range(40)
    ]
    done = asyncio.Event()

    async def writer(mine: list[list]) -> None:  # type: ignore[type-arg]
        for batch in mine:
            async with db.acquire() as conn, conn.transaction():
                await FeedProjection().apply(conn, batch)
                await asyncio.sleep(random.random() / 100)  # commit at a random later moment

    async def reader() -> list[str]:
        seen: list[str] = []
        cursor = START
        while True:
            finished = done.is_set()
            page = await read_feed(db, TRUST_A, cursor, 7)
            seen.extend(str(i.event_id) for i in page.items)
            cursor = decode_cursor(page.next_cursor)
            if finished and not page.has_more:
                return seen
            await asyncio.sleep(0.001)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(batches[w::4]) for w in range(4)))
    await settled(db)
    done.set()
    seen = await reading

    expected = {str(i.event_id) for i in await read_all(db, TRUST_A)}
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert len(expected) == 3 + 40 * 3
