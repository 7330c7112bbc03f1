"""The registry's deciders: given events, when a command, then events (or a refusal). No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cpd_events.decider import Rule, RuleBroken
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolLeftTrust,
    SchoolRegistered,
    TrustFundingModelChosen,
    TrustRegistered,
)
from cpd_events.types import FundingModel, Region
from entitlement.domain.registry import (
    DesignateSchoolCPDLead,
    JoinTrust,
    LeaveTrust,
    RegisterSchool,
    TeacherFacts,
    same_registration,
    school_decider,
)
from entitlement.domain.trust import (
    ChooseFundingModel,
    DesignateTrustCPDLead,
    RegisterTrust,
    Trust,
    trust_decider,
)

URN = "100000"
SCHOOL = SchoolRegistered(
    urn=URN,
    name="State-funded primary school 100000",
    local_authority="201",
    phase="State-funded primary",
    region=Region.LONDON,
    pupils_on_roll=271,
    fsm_percent=Decimal("21.90"),
    pp50=True,
)
TRUST = TrustRegistered(trust_id="2044", name="Harbour Learning Trust", region=Region.LONDON)
SEPT = date(2025, 9, 1)
JOINED = SchoolJoinedTrust(urn=URN, trust_id="2044", effective_from=SEPT)
HERE = TeacherFacts(registered=True, school_urn=URN)


def refusal(decider: object, given: list[object], command: object) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        decider.run(given, command)  # type: ignore[attr-defined]
    return caught.value


# --- schools ----------------------------------------------------------------------------------


def test_a_school_registers_once_and_keeps_its_details() -> None:
    assert school_decider.run([], RegisterSchool(SCHOOL)) == [SCHOOL]
    state = school_decider.fold([SCHOOL])
    assert (state.local_authority, state.pupils_on_roll, state.fsm_percent) == (
        "201",
        271,
        Decimal("21.90"),
    )
    assert same_registration(state, SCHOOL)
    assert not same_registration(state, SCHOOL.model_copy(update={"pupils_on_roll": 280}))
    assert refusal(school_decider, [SCHOOL], RegisterSchool(SCHOOL)).rule is Rule.CONFLICT


def test_a_school_joins_a_registered_trust() -> None:
    [joined] = school_decider.run([SCHOOL], JoinTrust("2044", SEPT, trust_registered=True))
    assert joined == JOINED
    assert school_decider.fold([SCHOOL, joined]).trust_id == "2044"


def test_joining_needs_a_registered_school_and_trust() -> None:
    no_school = refusal(school_decider, [], JoinTrust("2044", SEPT, trust_registered=True))
    assert (no_school.rule, no_school.field) == (Rule.NOT_FOUND, "urn")
    no_trust = refusal(school_decider, [SCHOOL], JoinTrust("2044", SEPT, trust_registered=False))
    assert (no_trust.rule, no_trust.field) == (Rule.NOT_FOUND, "trust_id")


def test_a_school_is_in_at_most_one_trust() -> None:
    other = refusal(school_decider, [SCHOOL, JOINED], JoinTrust("9999", SEPT, True))
    assert (other.rule, other.field) == (Rule.CONFLICT, "trust_id")
    assert "in trust 2044" in other.message  # names the trust it is in
    same = refusal(school_decider, [SCHOOL, JOINED], JoinTrust("2044", SEPT, True))
    assert same.rule is Rule.CONFLICT
    assert "already" in same.message


def test_leaving_names_the_trust_left() -> None:
    when = LeaveTrust(date(2026, 8, 31), "rebrokered")
    [left] = school_decider.run([SCHOOL, JOINED], when)
    assert left == SchoolLeftTrust(
        urn=URN, trust_id="2044", effective_from=date(2026, 8, 31), reason="rebrokered"
    )
    assert school_decider.fold([SCHOOL, JOINED, left]).trust_id is None


def test_leaving_a_trust_the_school_is_not_in_is_refused() -> None:
    none = refusal(school_decider, [SCHOOL], LeaveTrust(SEPT))
    assert (none.rule, none.field) == (Rule.CONFLICT, "trust_id")
    other = refusal(school_decider, [SCHOOL, JOINED], LeaveTrust(SEPT, trust_id="9999"))
    assert (other.rule, other.field) == (Rule.CONFLICT, "trust_id")
    assert refusal(school_decider, [], LeaveTrust(SEPT)).rule is Rule.NOT_FOUND


def test_leaving_is_on_or_after_joining() -> None:
    early = refusal(school_decider, [SCHOOL, JOINED], LeaveTrust(date(2025, 8, 31)))
    assert (early.rule, early.field) == (Rule.INVALID, "effective_from")
    assert school_decider.run([SCHOOL, JOINED], LeaveTrust(SEPT))  # the same day is fine


def test_rejoining_is_on_or_after_leaving() -> None:
    left = SchoolLeftTrust(urn=URN, trust_id="2044", effective_from=date(2026, 1, 1))
    early = refusal(school_decider, [SCHOOL, JOINED, left], JoinTrust("9999", SEPT, True))
    assert (early.rule, early.field) == (Rule.INVALID, "effective_from")
    [moved] = school_decider.run([SCHOOL, JOINED, left], JoinTrust("9999", date(2026, 1, 1), True))
    assert isinstance(moved, SchoolJoinedTrust)
    assert moved.trust_id == "9999"


def lead(
    hours: str = "4", teacher: TeacherFacts = HERE, on: date = SEPT, trn: str = "1234567"
) -> DesignateSchoolCPDLead:
    return DesignateSchoolCPDLead(trn, Decimal(hours), on, teacher)


def test_a_school_designates_a_funded_cpd_lead() -> None:
    [designated] = school_decider.run([SCHOOL], lead())
    assert designated == CPDLeadDesignated(
        trn="1234567", school_urn=URN, funded_hours_per_week=Decimal(4), effective_from=SEPT
    )
    state = school_decider.fold([SCHOOL, designated])
    assert (state.cpd_lead_trn, state.cpd_lead_hours_per_week) == ("1234567", Decimal("4.00"))


@pytest.mark.parametrize("hours", ["0", "40.01", "-1"])
def test_funded_time_is_more_than_nothing_and_at_most_40_hours(hours: str) -> None:
    refused = refusal(school_decider, [SCHOOL], lead(hours))
    assert (refused.rule, refused.field) == (Rule.INVALID, "funded_hours_per_week")


def test_a_full_week_is_the_most_funded_time() -> None:
    assert school_decider.run([SCHOOL], lead("40"))


def test_the_school_lead_is_a_registered_teacher_of_that_school() -> None:
    assert refusal(school_decider, [], lead()).field == "urn"
    unknown = refusal(school_decider, [SCHOOL], lead(teacher=TeacherFacts(registered=False)))
    assert (unknown.rule, unknown.field) == (Rule.NOT_FOUND, "trn")
    left = refusal(school_decider, [SCHOOL], lead(teacher=TeacherFacts(True, URN, left=True)))
    assert (left.rule, left.field) == (Rule.CONFLICT, "trn")
    elsewhere = refusal(school_decider, [SCHOOL], lead(teacher=TeacherFacts(True, "100001")))
    assert (elsewhere.rule, elsewhere.field) == (Rule.CONFLICT, "trn")
    assert "100001" in elsewhere.message


def test_a_new_designation_replaces_the_lead_or_their_time_but_not_backwards() -> None:
    [first] = school_decider.run([SCHOOL], lead())
    again = refusal(school_decider, [SCHOOL, first], lead())
    assert again.rule is Rule.CONFLICT
    [more_time] = school_decider.run([SCHOOL, first], lead("6", on=date(2026, 1, 5)))
    assert school_decider.fold([SCHOOL, first, more_time]).cpd_lead_hours_per_week == 6
    [other] = school_decider.run([SCHOOL, first], lead(trn="7654321", on=date(2026, 1, 5)))
    assert school_decider.fold([SCHOOL, first, other]).cpd_lead_trn == "7654321"
    backwards = refusal(school_decider, [SCHOOL, first], lead(trn="7654321", on=date(2025, 8, 1)))
    assert (backwards.rule, backwards.field) == (Rule.INVALID, "effective_from")


# --- trusts -----------------------------------------------------------------------------------


def choice(model: FundingModel, share: str, on: date = SEPT) -> TrustFundingModelChosen:
    return TrustFundingModelChosen(
        trust_id="2044", model=model, central_share_percent=Decimal(share), effective_from=on
    )


def test_a_trust_registers_once_and_schools_pay_until_it_chooses_a_model() -> None:
    assert trust_decider.run([], RegisterTrust(TRUST)) == [TRUST]
    state = trust_decider.fold([TRUST])
    assert (state.funding_model, state.central_share_percent) == (None, 0)
    assert state.cpd_lead_trns == frozenset()
    assert refusal(trust_decider, [TRUST], RegisterTrust(TRUST)).rule is Rule.CONFLICT


def test_a_trust_chooses_and_changes_its_funding_model() -> None:
    hybrid = choice(FundingModel.HYBRID, "30")
    assert trust_decider.run([TRUST], ChooseFundingModel(hybrid)) == [hybrid]
    state = trust_decider.fold([TRUST, hybrid])
    assert (state.funding_model, state.central_share_percent) == (FundingModel.HYBRID, 30)
    same = refusal(trust_decider, [TRUST, hybrid], ChooseFundingModel(hybrid))
    assert (same.rule, same.field) == (Rule.CONFLICT, "model")
    later = choice(FundingModel.CENTRALISED, "100", date(2026, 9, 1))
    assert trust_decider.run([TRUST, hybrid], ChooseFundingModel(later)) == [later]
    earlier = choice(FundingModel.DELEGATED, "0", date(2025, 1, 1))
    backwards = refusal(trust_decider, [TRUST, hybrid], ChooseFundingModel(earlier))
    assert (backwards.rule, backwards.field) == (Rule.INVALID, "effective_from")


def test_a_funding_model_needs_a_registered_trust() -> None:
    refused = refusal(trust_decider, [], ChooseFundingModel(choice(FundingModel.DELEGATED, "0")))
    assert (refused.rule, refused.field) == (Rule.NOT_FOUND, "trust_id")


@pytest.mark.parametrize(
    ("model", "share"),
    [("hybrid", "0"), ("hybrid", "100"), ("centralised", "90"), ("delegated", "10")],
)
def test_the_share_must_match_the_model(model: str, share: str) -> None:
    with pytest.raises(ValidationError):
        choice(FundingModel(model), share)


def trust_lead(
    hours: str = "7.5",
    teacher: TeacherFacts = HERE,
    school_trust: str | None = "2044",
    trn: str = "1234567",
    on: date = SEPT,
) -> DesignateTrustCPDLead:
    return DesignateTrustCPDLead(trn, Decimal(hours), on, teacher, school_trust)


def test_a_trust_designates_several_cpd_leads_from_its_schools() -> None:
    [first] = trust_decider.run([TRUST], trust_lead())
    assert first == CPDLeadDesignated(
        trn="1234567", trust_id="2044", funded_hours_per_week=Decimal("7.5"), effective_from=SEPT
    )
    [second] = trust_decider.run([TRUST, first], trust_lead(trn="7654321"))
    state: Trust = trust_decider.fold([TRUST, first, second])
    assert state.cpd_lead_trns == {"1234567", "7654321"}
    # a school-level designation on another stream does not touch the trust
    assert school_decider.fold([SCHOOL, first]).cpd_lead_trn is None


def test_a_trust_lead_works_at_one_of_its_schools() -> None:
    assert refusal(trust_decider, [], trust_lead()).rule is Rule.NOT_FOUND
    elsewhere = refusal(trust_decider, [TRUST], trust_lead(school_trust="9999"))
    assert (elsewhere.rule, elsewhere.field) == (Rule.CONFLICT, "trn")
    outside = refusal(trust_decider, [TRUST], trust_lead(school_trust=None))
    assert outside.rule is Rule.CONFLICT
    unknown = refusal(trust_decider, [TRUST], trust_lead(teacher=TeacherFacts(False)))
    assert (unknown.rule, unknown.field) == (Rule.NOT_FOUND, "trn")
    left = refusal(trust_decider, [TRUST], trust_lead(teacher=TeacherFacts(True, URN, True)))
    assert left.rule is Rule.CONFLICT
    too_much = refusal(trust_decider, [TRUST], trust_lead(hours="41"))
    assert (too_much.rule, too_much.field) == (Rule.INVALID, "funded_hours_per_week")


def test_a_trust_lead_time_changes_forwards_only() -> None:
    [first] = trust_decider.run([TRUST], trust_lead())
    assert refusal(trust_decider, [TRUST, first], trust_lead()).rule is Rule.CONFLICT
    [changed] = trust_decider.run([TRUST, first], trust_lead("10", on=date(2026, 1, 5)))
    state = trust_decider.fold([TRUST, first, changed])
    assert state.cpd_leads["1234567"].funded_hours_per_week == 10
    backwards = refusal(trust_decider, [TRUST, first], trust_lead("10", on=date(2025, 1, 1)))
    assert (backwards.rule, backwards.field) == (Rule.INVALID, "effective_from")
