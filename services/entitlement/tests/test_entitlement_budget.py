"""Budgets: given events, when a command, then events (or a refusal). No I/O."""

from __future__ import annotations

import random

import pytest

from cpd_events import Event
from cpd_events.decider import Rule, RuleBroken
from cpd_events.entitlement_events import (
    BudgetAllocated,
    FundingCommitted,
    FundingReleased,
    FundingSpent,
)
from entitlement.domain.budget import (
    AllocateBudget,
    CommitFunding,
    ReleaseFunding,
    SpendFunding,
    allocation_target,
    budget_decider,
    budget_stream,
    pounds,
    premium_budget_id,
    school_budget_id,
    settle_funding,
    trust_budget_id,
)

YEAR = "2025/26"
SCHOOL = school_budget_id(YEAR, "100000")


def allocated(amount: int = 100_000) -> BudgetAllocated:
    [event] = budget_decider.run([], AllocateBudget(YEAR, "school", "100000", amount, True))
    assert isinstance(event, BudgetAllocated)
    return event


def commit(request_id: str, amount: int, budget: str = SCHOOL) -> CommitFunding:
    return CommitFunding(budget, request_id, "1234567", "100000", None, YEAR, amount)


def committed(request_id: str, amount: int) -> FundingCommitted:
    return FundingCommitted(
        budget_id=SCHOOL,
        request_id=request_id,
        trn="1234567",
        school_urn="100000",
        academic_year=YEAR,
        amount_pence=amount,
    )


def test_budget_ids_and_streams_name_year_holder_and_id() -> None:
    assert SCHOOL == "2025-26-school-100000"
    assert budget_stream(SCHOOL) == "budget-2025-26-school-100000"
    assert trust_budget_id(YEAR, "2044") == "2025-26-trust-2044"
    assert premium_budget_id(YEAR) == "2025-26-national_premium-england"


def test_money_reads_in_pounds() -> None:
    assert (pounds(0), pounds(5), pounds(123_456), pounds(-250)) == (
        "£0.00",
        "£0.05",
        "£1,234.56",
        "-£2.50",
    )


def test_an_allocation_names_its_holder_exactly() -> None:
    assert allocation_target("trust", "2044", None) == ("trust", "2044")
    assert allocation_target("school", None, "100000") == ("school", "100000")
    assert allocation_target("national_premium", None, None) == ("national_premium", "england")
    for holder, trust, school in [
        ("trust", None, None),
        ("trust", "2044", "100000"),
        ("school", None, None),
        ("school", "2044", "100000"),
        ("national_premium", "2044", None),
        ("national_premium", None, "100000"),
    ]:
        with pytest.raises(RuleBroken) as caught:
            allocation_target(holder, trust, school)  # type: ignore[arg-type]
        assert caught.value.rule is Rule.INVALID


def test_allocations_add_up() -> None:
    first = allocated(100_000)
    assert (first.budget_id, first.holder, first.school_urn, first.trust_id) == (
        SCHOOL,
        "school",
        "100000",
        None,
    )
    [top_up] = budget_decider.run([first], AllocateBudget(YEAR, "school", "100000", 50_000, True))
    state = budget_decider.fold([first, top_up])
    assert (state.allocated, state.available) == (150_000, 150_000)


def test_trust_and_premium_allocations() -> None:
    [trust] = budget_decider.run([], AllocateBudget(YEAR, "trust", "2044", 1, True))
    assert isinstance(trust, BudgetAllocated)
    assert (trust.budget_id, trust.trust_id, trust.school_urn) == (
        "2025-26-trust-2044",
        "2044",
        None,
    )
    [premium] = budget_decider.run([], AllocateBudget(YEAR, "national_premium", "england", 1, True))
    assert isinstance(premium, BudgetAllocated)
    assert (premium.trust_id, premium.school_urn) == (None, None)


def test_an_allocation_is_positive_and_its_holder_registered() -> None:
    with pytest.raises(RuleBroken) as caught:
        budget_decider.run([], AllocateBudget(YEAR, "school", "100000", 0, True))
    assert (caught.value.rule, caught.value.field) == (Rule.INVALID, "amount_pence")
    with pytest.raises(RuleBroken, match="no school 100000") as caught:
        budget_decider.run([], AllocateBudget(YEAR, "school", "100000", 10, False))
    assert (caught.value.rule, caught.value.field) == (Rule.NOT_FOUND, "school_urn")
    with pytest.raises(RuleBroken, match="no trust 2044") as caught:
        budget_decider.run([], AllocateBudget(YEAR, "trust", "2044", 10, False))
    assert caught.value.field == "trust_id"


def test_committing_within_the_budget() -> None:
    [event] = budget_decider.run([allocated()], commit("r1", 60_000))
    assert event == committed("r1", 60_000)
    state = budget_decider.fold([allocated(), event])
    assert (state.committed, state.available) == (60_000, 40_000)


def test_the_last_pound_can_be_committed_but_not_a_penny_more() -> None:
    given: list[Event] = [allocated(), committed("r1", 60_000)]
    assert budget_decider.run(given, commit("r2", 40_000)) == [committed("r2", 40_000)]
    with pytest.raises(RuleBroken) as caught:
        budget_decider.run(given, commit("r2", 40_001))
    assert caught.value.rule is Rule.CONFLICT
    assert caught.value.message == (
        "budget 2025-26-school-100000 has £400.00 left, request r2 needs £400.01"
    )


def test_committing_needs_an_allocated_budget() -> None:
    with pytest.raises(RuleBroken) as caught:
        budget_decider.run([], commit("r1", 1))
    assert caught.value.rule is Rule.CONFLICT
    assert "budget 2025-26-school-100000 is not allocated" in caught.value.message


def test_a_request_commits_once_per_budget_and_more_than_nothing() -> None:
    with pytest.raises(RuleBroken, match="already"):
        budget_decider.run([allocated(), committed("r1", 10)], commit("r1", 10))
    with pytest.raises(RuleBroken) as caught:
        budget_decider.run([allocated()], commit("r1", 0))
    assert caught.value.rule is Rule.INVALID


def test_spending_moves_the_commitment_to_spent() -> None:
    given: list[Event] = [allocated(), committed("r1", 60_000)]
    [spent] = budget_decider.run(given, SpendFunding("r1"))
    assert isinstance(spent, FundingSpent)
    assert (spent.budget_id, spent.request_id, spent.amount_pence) == (SCHOOL, "r1", 60_000)
    state = budget_decider.fold([*given, spent])
    assert (state.committed, state.spent, state.available) == (0, 60_000, 40_000)
    assert state.spent_by_request == {"r1": 60_000}
    with pytest.raises(RuleBroken, match="no commitment for request r1"):
        budget_decider.run([*given, spent], SpendFunding("r1"))


def test_releasing_gives_the_commitment_back() -> None:
    given: list[Event] = [allocated(), committed("r1", 60_000)]
    [released] = budget_decider.run(given, ReleaseFunding("r1", "withdrawn"))
    assert isinstance(released, FundingReleased)
    assert (released.amount_pence, released.reason) == (60_000, "withdrawn")
    state = budget_decider.fold([*given, released])
    assert (state.committed, state.spent, state.available) == (0, 0, 100_000)
    with pytest.raises(RuleBroken) as caught:
        budget_decider.run([*given, released], ReleaseFunding("r1"))
    assert caught.value.rule is Rule.CONFLICT
    with pytest.raises(RuleBroken):
        budget_decider.run([allocated()], ReleaseFunding("r9"))


def test_settling_a_request_spends_or_releases_on_each_budget_holding_it() -> None:
    school = budget_decider.fold([allocated(), committed("r1", 600)])
    trust_commit = committed("r1", 400).model_copy(update={"budget_id": "2025-26-trust-2044"})
    trust = budget_decider.fold(
        [
            BudgetAllocated(
                budget_id="2025-26-trust-2044",
                holder="trust",
                trust_id="2044",
                academic_year=YEAR,
                amount_pence=1000,
            ),
            trust_commit,
        ]
    )
    other = budget_decider.fold([allocated()])
    budgets = {SCHOOL: school, "2025-26-trust-2044": trust, "other": other}
    spent = settle_funding(budgets, "r1", "spend")
    assert sorted(spent) == [SCHOOL, "2025-26-trust-2044"]
    assert [type(e) for events in spent.values() for e in events] == [FundingSpent] * 2
    assert sum(e.amount_pence for events in spent.values() for e in events) == 1000  # type: ignore[attr-defined]
    released = settle_funding(budgets, "r1", "release", "declined")
    assert all(isinstance(e, FundingReleased) for es in released.values() for e in es)
    assert settle_funding(budgets, "r2", "spend") == {}


def test_committed_and_spent_never_exceed_allocated() -> None:
    """Random commands against one budget: whatever is accepted keeps the rule."""
    chance = random.Random(20250901)
    given: list[Event] = [allocated(50_000)]
    refusals: dict[Rule, int] = {}
    for _ in range(400):
        state = budget_decider.fold(given)
        assert state.committed + state.spent <= state.allocated
        assert state.committed == sum(c.amount_pence for c in state.commitments.values())
        roll = chance.random()
        request = f"r{chance.randrange(40)}"
        if roll < 0.6:
            command: object = commit(request, chance.randrange(1, 9_000))
        elif roll < 0.8:
            command = SpendFunding(request)
        elif roll < 0.95:
            command = ReleaseFunding(request)
        else:
            command = AllocateBudget(YEAR, "school", "100000", chance.randrange(1, 5_000), True)
        try:
            given.extend(budget_decider.run(given, command))  # type: ignore[arg-type]
        except RuleBroken as refused:
            refusals[refused.rule] = refusals.get(refused.rule, 0) + 1
    final = budget_decider.fold(given)
    assert final.committed + final.spent <= final.allocated
    assert final.spent > 0  # the walk went somewhere
    assert final.committed > 0
    assert set(refusals) == {Rule.CONFLICT}  # over budget, or nothing to spend or release
