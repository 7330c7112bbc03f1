"""Which pot pays, who approves, and approval within the teacher's entitlement. No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Event
from cpd_events.decider import Rule, RuleBroken
from cpd_events.entitlement_events import (
    CPDApproved,
    CPDRequested,
    EntitlementGranted,
    FundingShare,
)
from cpd_events.registry_events import TeacherRegistered
from cpd_events.types import CareerStage, FundingModel
from entitlement.domain.funding import (
    Arrangement,
    approvers,
    arrangement_of,
    central_part,
    pots,
)
from entitlement.domain.teacher import ApproveCPD, funding_left, teacher_decider

YEAR = "2025/26"
SCHOOL = "2025-26-school-100000"
TRUST = "2025-26-trust-2044"
ALONE = Arrangement("100000")
DELEGATED = Arrangement("100000", "2044", FundingModel.DELEGATED, Decimal(0))
CENTRAL = Arrangement("100000", "2044", FundingModel.CENTRALISED, Decimal(100))


def hybrid(share: str) -> Arrangement:
    return Arrangement("100000", "2044", FundingModel.HYBRID, Decimal(share))


def shares(*pairs: tuple[str, int]) -> list[FundingShare]:
    return [FundingShare(budget_id=b, amount_pence=a) for b, a in pairs]


def test_a_school_in_no_trust_pays_itself() -> None:
    assert arrangement_of("100000", None, None, Decimal(0)) == ALONE
    assert pots(ALONE, YEAR, 125_000) == shares((SCHOOL, 125_000))


def test_a_delegating_trust_leaves_it_to_the_school() -> None:
    assert pots(DELEGATED, YEAR, 125_000) == shares((SCHOOL, 125_000))


def test_a_trust_with_no_model_yet_counts_as_delegated() -> None:
    undecided = arrangement_of("100000", "2044", None, Decimal(0))
    assert undecided.effective_model is FundingModel.DELEGATED
    assert pots(undecided, YEAR, 500) == shares((SCHOOL, 500))


def test_a_centralised_trust_pays_from_its_own_budget() -> None:
    assert pots(CENTRAL, YEAR, 125_000) == shares((TRUST, 125_000))


def test_a_hybrid_trust_splits_central_share_and_school_rest() -> None:
    assert pots(hybrid("30"), YEAR, 125_000) == shares((TRUST, 37_500), (SCHOOL, 87_500))


@pytest.mark.parametrize(
    ("share", "cost", "central"),
    [
        ("50", 1_001, 501),  # 500.5 rounds half up
        ("50", 999, 500),  # 499.5 rounds half up
        ("33.33", 100, 33),  # 33.33 rounds down
        ("66.67", 100, 67),
        ("12.5", 4, 1),  # 0.5 rounds half up
        ("99.99", 12_345, 12_344),  # 12343.77...
    ],
)
def test_hybrid_rounding_is_half_up_and_the_parts_add_up(
    share: str, cost: int, central: int
) -> None:
    assert central_part(cost, Decimal(share)) == central
    parts = pots(hybrid(share), YEAR, cost)
    assert parts == shares((TRUST, central), (SCHOOL, cost - central))
    assert sum(p.amount_pence for p in parts) == cost


def test_a_part_of_nothing_commits_nothing() -> None:
    assert pots(hybrid("10"), YEAR, 4) == shares((SCHOOL, 4))  # 0.4p central rounds to 0
    assert pots(hybrid("90"), YEAR, 4) == shares((TRUST, 4))  # 3.6p -> 4p, school 0
    assert pots(CENTRAL, YEAR, 0) == []  # a free course


def test_who_approves() -> None:
    leads = frozenset({"7000001", "7000002"})
    assert approvers(ALONE, "1111111", frozenset()) == {"1111111"}
    assert approvers(DELEGATED, "1111111", leads) == {"1111111"}
    assert approvers(hybrid("40"), "1111111", leads) == {"1111111"}
    assert approvers(CENTRAL, "1111111", leads) == leads
    assert approvers(ALONE, None, leads) == frozenset()
    assert approvers(CENTRAL, "1111111", frozenset()) == frozenset()


# --- the approval decision -----------------------------------------------------------------


def registered() -> TeacherRegistered:
    return TeacherRegistered(
        trn="1234567",
        school_urn="100000",
        given_name="Ada",
        family_name="Lovelace",
        career_stage=CareerStage.EXPERIENCED,
        fte=Decimal(100),
        registered_on=date(2025, 9, 1),
    )


def grant(funding: int = 100_000) -> EntitlementGranted:
    return EntitlementGranted(
        trn="1234567",
        school_urn="100000",
        academic_year=YEAR,
        policy_version=1,
        hours=Decimal(35),
        funding_pence=funding,
    )


def requested(request_id: str, cost: int, year: str = YEAR) -> CPDRequested:
    return CPDRequested(
        request_id=request_id,
        trn="1234567",
        school_urn="100000",
        course_id="c1",
        academic_year=year,
        cost_pence=cost,
        expected_hours=Decimal(6),
    )


def approve(
    request_id: str,
    arrangement: Arrangement | None = None,
    approver: str | None = None,
    allowed: frozenset[str] = frozenset(),
) -> ApproveCPD:
    return ApproveCPD(request_id, "Head", approver, allowed, arrangement)


def approved_by_decider(given: list[Event], command: ApproveCPD) -> CPDApproved:
    [event] = teacher_decider.run(given, command)
    assert isinstance(event, CPDApproved)
    return event


def test_approval_records_the_pots_that_pay() -> None:
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    event = approved_by_decider(given, approve("r1", hybrid("25")))
    assert event.funding == shares((TRUST, 15_000), (SCHOOL, 45_000))
    assert (event.funded_from_budget_id, event.cost_pence) == (TRUST, 60_000)
    state = teacher_decider.fold([*given, event])
    assert state.requests["r1"].funding == tuple(event.funding)
    assert state.requests["r1"].status == "approved"


def test_without_an_arrangement_the_teachers_school_pays() -> None:
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    event = approved_by_decider(given, approve("r1"))
    assert event.funding == shares((SCHOOL, 60_000))


def test_a_free_course_is_approved_with_no_pot() -> None:
    given: list[Event] = [registered(), grant(0), requested("r1", 0)]
    event = approved_by_decider(given, approve("r1", CENTRAL))
    assert (event.funding, event.funded_from_budget_id) == ([], None)


def test_the_approver_must_be_the_schools_cpd_lead() -> None:
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    lead = frozenset({"1111111"})
    event = approved_by_decider(given, approve("r1", DELEGATED, "1111111", lead))
    assert event.approver_trn == "1111111"
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run(given, approve("r1", DELEGATED, "2222222", lead))
    assert (caught.value.rule, caught.value.field) == (Rule.CONFLICT, "approver_trn")
    assert "approved by the CPD lead of school 100000" in caught.value.message
    with pytest.raises(RuleBroken):  # a school with no CPD lead: nobody named may approve
        teacher_decider.run(given, approve("r1", ALONE, "1111111", frozenset()))


def test_under_a_centralised_trust_a_trust_cpd_lead_approves() -> None:
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    trust_leads = frozenset({"7000001"})
    approved_by_decider(given, approve("r1", CENTRAL, "7000001", trust_leads))
    with pytest.raises(RuleBroken, match="a CPD lead of trust 2044"):
        teacher_decider.run(given, approve("r1", CENTRAL, "1111111", trust_leads))


def test_an_unnamed_approver_is_not_checked() -> None:
    """Until authentication: the approval records ``approved_by`` as said."""
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    approved_by_decider(given, approve("r1", CENTRAL, None, frozenset()))


def test_approval_never_takes_the_entitlement_below_nothing() -> None:
    given: list[Event] = [
        registered(),
        grant(100_000),
        requested("r1", 60_000),
        requested("r2", 40_000),
        requested("r3", 1),
        requested("r4", 500, year="2026/27"),
    ]
    first = approved_by_decider(given, approve("r1"))
    given.append(first)
    assert funding_left(teacher_decider.fold(given), YEAR) == 40_000
    second = approved_by_decider(given, approve("r2"))  # exactly what is left
    given.append(second)
    assert funding_left(teacher_decider.fold(given), YEAR) == 0
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run(given, approve("r3"))
    assert (caught.value.rule, caught.value.field) == (Rule.CONFLICT, "request_id")
    assert caught.value.message == (
        "request r3 needs £0.01 but teacher 1234567 has £0.00 of their 2025/26 entitlement"
        " funding left"
    )
    with pytest.raises(RuleBroken, match=r"has £0\.00 of their 2026/27"):  # no grant that year
        teacher_decider.run(given, approve("r4"))


def test_a_request_costing_more_than_the_whole_grant_is_refused() -> None:
    given: list[Event] = [registered(), grant(50_000), requested("r1", 125_000)]
    with pytest.raises(RuleBroken, match=r"needs £1,250\.00 but teacher 1234567 has £500\.00"):
        teacher_decider.run(given, approve("r1"))


def test_approval_refusals_of_the_request_itself_come_first() -> None:
    given: list[Event] = [registered(), grant(), requested("r1", 60_000)]
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run(given, approve("r9"))
    assert caught.value.rule is Rule.NOT_FOUND
    event = approved_by_decider(given, approve("r1"))
    with pytest.raises(RuleBroken, match="approved already"):
        teacher_decider.run([*given, event], approve("r1"))
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run([], approve("r1"))
    assert caught.value.rule is Rule.NOT_FOUND
