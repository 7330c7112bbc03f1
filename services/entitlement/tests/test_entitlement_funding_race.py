"""Approvals against the real event store: the budget and the entitlement hold under races;
hybrid approvals commit on two budgets all or nothing; completion spends, withdrawal releases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Envelope, Event, Metadata, NewEvent
from cpd_events.decider import RuleBroken
from cpd_events.entitlement_events import CPDRequested, EntitlementPolicyPublished
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolRegistered,
    TeacherRegistered,
    TrustFundingModelChosen,
    TrustRegistered,
)
from cpd_events.types import CareerStage, FundingModel
from cpd_eventstore import ANY_VERSION, ConcurrencyError, EventStore, StreamWrite
from cpd_eventstore.db import Connection, Pool
from entitlement import funding_app
from entitlement.domain.budget import budget_stream
from entitlement.domain.policy import policy_stream
from entitlement.domain.registry import school_stream
from entitlement.domain.teacher import (
    ApproveCPD,
    CompleteCPD,
    WithdrawCPD,
    teacher_stream,
)
from entitlement.domain.trust import trust_stream
from entitlement.grants import grant_teacher

pytestmark = pytest.mark.integration

META = Metadata(actor="test")
YEAR = "2025/26"
SCHOOL_BUDGET = "2025-26-school-100000"
TRUST_BUDGET = "2025-26-trust-2044"


class RacingStore(EventStore):
    """The real store; the first two reads of a budget stream wait for each other, so both
    approvals decide on the same budget before either appends. Counts version conflicts."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)
        self.barrier = asyncio.Barrier(2)
        self.budget_reads = 0
        self.conflicts = 0
        self.armed = False

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        read = await super().read_stream(stream_id, after_version)
        if self.armed and stream_id.startswith("budget-") and self.budget_reads < 2:
            self.budget_reads += 1
            await asyncio.wait_for(self.barrier.wait(), 5)
        return read

    async def append_many(
        self,
        writes: Sequence[StreamWrite],
        metadata: Metadata,
        connection: Connection | None = None,
    ) -> list[Envelope]:
        try:
            return await super().append_many(writes, metadata, connection)
        except ConcurrencyError:
            self.conflicts += 1
            raise


async def put(store: EventStore, stream_id: str, *events: Event) -> None:
    await store.append(stream_id, ANY_VERSION, [NewEvent(event=e) for e in events], META)


async def school(store: EventStore, trust: FundingModel | None = None, share: int = 0) -> None:
    await put(
        store,
        school_stream("100000"),
        SchoolRegistered(urn="100000", name="Hackney Primary", local_authority="201", phase="P"),
    )
    if trust is None:
        return
    await put(
        store,
        trust_stream("2044"),
        TrustRegistered(trust_id="2044", name="Harbour Trust"),
        TrustFundingModelChosen(
            trust_id="2044",
            model=trust,
            central_share_percent=Decimal(share),
            effective_from=date(2025, 9, 1),
        ),
    )
    await put(
        store,
        school_stream("100000"),
        SchoolJoinedTrust(urn="100000", trust_id="2044", effective_from=date(2025, 9, 1)),
    )


async def teacher_with_request(store: EventStore, trn: str, cost: int) -> None:
    """A registered teacher, granted £600.00 for the year, who requested a course."""
    await put(
        store,
        teacher_stream(trn),
        TeacherRegistered(
            trn=trn,
            school_urn="100000",
            given_name="A",
            family_name="B",
            career_stage=CareerStage.EXPERIENCED,
            fte=Decimal(100),
            registered_on=date(2025, 9, 1),
        ),
    )
    await grant_teacher(store, trn, YEAR, META)
    await put(
        store,
        teacher_stream(trn),
        CPDRequested(
            request_id=f"r-{trn}",
            trn=trn,
            school_urn="100000",
            course_id="c1",
            academic_year=YEAR,
            cost_pence=cost,
            expected_hours=Decimal(6),
        ),
    )


async def policy(store: EventStore) -> None:
    await put(
        store,
        policy_stream(YEAR),
        EntitlementPolicyPublished(
            academic_year=YEAR,
            policy_version=1,
            minimum_hours=Decimal(35),
            base_funding_per_fte_pence=60_000,
            pp50_uplift_percent=Decimal(0),
            early_career_uplift_percent=Decimal(0),
            effective_from=date(2025, 9, 1),
        ),
    )


async def approve(store: EventStore, trn: str) -> str:
    try:
        await funding_app.approve(store, trn, ApproveCPD(f"r-{trn}", "Head"), META)
    except RuleBroken as refused:
        return f"{refused.rule.value}: {refused.message}"
    return "approved"


async def test_two_approvals_racing_for_the_last_pounds_exactly_one_wins(pool: Pool) -> None:
    store = RacingStore(pool)
    await school(store)
    await policy(store)
    await teacher_with_request(store, "1000001", 40_000)
    await teacher_with_request(store, "1000002", 40_000)
    await funding_app.allocate_budget(store, YEAR, "school", None, "100000", 50_000, META)

    store.armed = True
    outcomes = await asyncio.gather(approve(store, "1000001"), approve(store, "1000002"))

    assert sorted(outcomes) == [
        "approved",
        "conflict: budget 2025-26-school-100000 has £100.00 left, request"
        f" r-{'1000002' if outcomes[0] == 'approved' else '1000001'} needs £400.00",
    ]
    assert store.conflicts == 1  # both decided on the same budget; the loser re-decided
    budget, version = await funding_app.get_budget(store, SCHOOL_BUDGET)
    assert (budget.allocated, budget.committed, budget.available, version) == (
        50_000,
        40_000,
        10_000,
        2,
    )


async def test_a_hybrid_approval_commits_on_both_budgets_or_on_none(pool: Pool) -> None:
    await school(EventStore(pool), FundingModel.HYBRID, 40)
    store = EventStore(pool)
    await policy(store)
    await teacher_with_request(store, "1000003", 50_000)
    await funding_app.allocate_budget(store, YEAR, "trust", "2044", None, 100_000, META)
    await funding_app.allocate_budget(store, YEAR, "school", None, "100000", 29_999, META)
    teacher_version = await store.stream_version(teacher_stream("1000003"))

    # the trust's 40% (£200.00) fits; the school's 60% (£300.00) does not: nothing is written
    assert await approve(store, "1000003") == (
        "conflict: budget 2025-26-school-100000 has £299.99 left, request r-1000003 needs £300.00"
    )
    assert await store.stream_version(teacher_stream("1000003")) == teacher_version
    assert await store.stream_version(budget_stream(TRUST_BUDGET)) == 1

    await funding_app.allocate_budget(store, YEAR, "school", None, "100000", 1, META)
    assert await approve(store, "1000003") == "approved"
    trust, _ = await funding_app.get_budget(store, TRUST_BUDGET)
    school_budget, _ = await funding_app.get_budget(store, SCHOOL_BUDGET)
    assert (trust.committed, school_budget.committed) == (20_000, 30_000)
    assert trust.commitments["r-1000003"].trust_id == "2044"

    complete = CompleteCPD("r-1000003", date(2025, 12, 1))
    await funding_app.settle(store, "1000003", complete, META)
    trust, _ = await funding_app.get_budget(store, TRUST_BUDGET)
    school_budget, _ = await funding_app.get_budget(store, SCHOOL_BUDGET)
    assert (trust.committed, trust.spent, school_budget.committed, school_budget.spent) == (
        0,
        20_000,
        0,
        30_000,
    )


async def test_a_centralised_trust_pays_and_a_withdrawal_gives_the_money_back(
    pool: Pool,
) -> None:
    store = EventStore(pool)
    await school(store, FundingModel.CENTRALISED, 100)
    await policy(store)
    await teacher_with_request(store, "1000004", 45_000)
    await teacher_with_request(store, "1000005", 45_000)
    await funding_app.allocate_budget(store, YEAR, "trust", "2044", None, 50_000, META)

    assert await approve(store, "1000004") == "approved"
    assert (await approve(store, "1000005")).startswith(
        "conflict: budget 2025-26-trust-2044 has £50.00 left"
    )
    await funding_app.settle(store, "1000004", WithdrawCPD("r-1000004", "ill"), META)
    trust, _ = await funding_app.get_budget(store, TRUST_BUDGET)
    assert (trust.committed, trust.spent, trust.available) == (0, 0, 50_000)
    assert await approve(store, "1000005") == "approved"  # the released money pays


async def test_approval_refusals_name_the_budget_or_the_request(pool: Pool) -> None:
    store = EventStore(pool)
    await school(store)
    await policy(store)
    await teacher_with_request(store, "1000006", 70_000)  # more than the £600.00 granted
    await teacher_with_request(store, "1000007", 100)
    assert await approve(store, "1000007") == (
        "conflict: budget 2025-26-school-100000 is not allocated: it has £0.00 left, request"
        " r-1000007 needs £1.00"
    )
    await funding_app.allocate_budget(store, YEAR, "school", None, "100000", 100_000, META)
    assert await approve(store, "1000006") == (
        "conflict: request r-1000006 needs £700.00 but teacher 1000006 has £600.00 of their"
        " 2025/26 entitlement funding left"
    )
    assert await approve(store, "1000007") == "approved"


async def test_the_approver_named_must_be_the_schools_cpd_lead(pool: Pool) -> None:
    store = EventStore(pool)
    await school(store)
    await policy(store)
    await teacher_with_request(store, "1000008", 100)
    await put(
        store,
        school_stream("100000"),
        CPDLeadDesignated(
            trn="1000009",
            school_urn="100000",
            funded_hours_per_week=Decimal(2),
            effective_from=date(2025, 9, 1),
        ),
    )
    await funding_app.allocate_budget(store, YEAR, "school", None, "100000", 100_000, META)
    with pytest.raises(RuleBroken, match="approved by the CPD lead of school 100000"):
        await funding_app.approve(
            store, "1000008", ApproveCPD("r-1000008", "Someone", "1000001"), META
        )
    [approved, _] = await funding_app.approve(
        store, "1000008", ApproveCPD("r-1000008", "Lead", "1000009"), META
    )
    assert approved.data["approver_trn"] == "1000009"
