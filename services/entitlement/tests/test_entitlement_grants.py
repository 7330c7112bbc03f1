"""Grants: a year's entitlement, pro rata to FTE and to the part of the year. No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Event
from cpd_events.decider import Rule, RuleBroken
from cpd_events.entitlement_events import EntitlementGranted, EntitlementPolicyPublished
from cpd_events.registry_events import TeacherLeftProfession, TeacherRegistered
from cpd_events.types import CareerStage
from entitlement.domain.teacher import (
    GrantEntitlement,
    RegisterTeacher,
    Teacher,
    academic_year_days,
    entitlement_for,
    pro_rata_percent,
    teacher_decider,
)
from entitlement.grants import grant_event, grant_event_id, with_registration_grant

YEAR = "2025/26"
POLICY = EntitlementPolicyPublished(
    academic_year=YEAR,
    policy_version=1,
    minimum_hours=Decimal(35),
    base_funding_per_fte_pence=60_000,
    pp50_uplift_percent=Decimal(20),
    early_career_uplift_percent=Decimal(10),
    effective_from=date(2025, 9, 1),
)


def teacher(
    registered_on: date = date(2025, 9, 1),
    stage: CareerStage = CareerStage.EXPERIENCED,
    fte: str = "100",
) -> TeacherRegistered:
    return TeacherRegistered(
        trn="1234567",
        school_urn="100000",
        given_name="Ada",
        family_name="Lovelace",
        career_stage=stage,
        fte=Decimal(fte),
        registered_on=registered_on,
    )


def granted(given: list[Event], pp50: bool = False) -> EntitlementGranted:
    [event] = teacher_decider.run(given, GrantEntitlement(YEAR, POLICY, pp50))
    assert isinstance(event, EntitlementGranted)
    return event


def test_an_academic_year_runs_from_september_to_august() -> None:
    assert academic_year_days(YEAR) == (date(2025, 9, 1), date(2026, 8, 31))


def test_a_full_year_grant() -> None:
    event = granted([teacher()])
    assert (event.hours, event.funding_pence, event.pro_rata_percent) == (
        Decimal("35.00"),
        60_000,
        Decimal(100),
    )
    assert (event.policy_version, event.school_urn) == (1, "100000")


def test_premium_early_career_and_part_time() -> None:
    event = granted([teacher(stage=CareerStage.ECT_YEAR_1, fte="50")], pp50=True)
    # 60,000 x 0.5 x 1.2 x 1.1 = 39,600; 35 x 0.5 = 17.5 hours
    assert (event.hours, event.funding_pence) == (Decimal("17.50"), 39_600)


@pytest.mark.parametrize(
    ("registered_on", "percent"),
    [
        (date(2024, 3, 1), Decimal(100)),  # registered in an earlier year
        (date(2025, 9, 1), Decimal(100)),  # on the first day
        (date(2025, 9, 2), Decimal("99.73")),  # 364 / 365
        (date(2026, 3, 1), Decimal("50.41")),  # 184 / 365
        (date(2026, 8, 31), Decimal("0.27")),  # the last day: 1 / 365
    ],
)
def test_pro_rata_share_of_the_year(registered_on: date, percent: Decimal) -> None:
    assert pro_rata_percent(YEAR, date(2025, 9, 1), registered_on) == percent


def test_pro_rata_counts_a_leap_year_and_the_policys_effective_date() -> None:
    # 2027/28 has 366 days; registered 2028-03-01: 184 days left
    assert pro_rata_percent("2027/28", date(2027, 9, 1), date(2028, 3, 1)) == Decimal("50.27")
    # a policy effective from January: registered before it counts as the whole year
    assert pro_rata_percent(YEAR, date(2026, 1, 1), date(2025, 12, 1)) == Decimal(100)
    assert pro_rata_percent(YEAR, date(2026, 1, 1), date(2026, 3, 1)) == Decimal("50.41")
    assert pro_rata_percent(YEAR, date(2025, 9, 1), date(2026, 9, 1)) is None
    assert pro_rata_percent(YEAR, date(2025, 9, 1), None) == Decimal(100)


def test_a_mid_year_teacher_gets_a_pro_rata_grant() -> None:
    event = granted([teacher(date(2026, 3, 1), fte="50")], pp50=True)
    # 60,000 x 0.5 x 0.5041 x 1.2 = 18,147.6 -> 18,148; 35 x 0.5 x 0.5041 = 8.82175 -> 8.82
    assert (event.pro_rata_percent, event.funding_pence, event.hours) == (
        Decimal("50.41"),
        18_148,
        Decimal("8.82"),
    )
    assert entitlement_for(
        POLICY, CareerStage.EXPERIENCED, Decimal(50), True, Decimal("50.41")
    ) == (Decimal("8.82"), 18_148)


def test_a_teacher_registered_after_the_year_gets_nothing_for_it() -> None:
    with pytest.raises(RuleBroken, match="after 2025/26 ended") as caught:
        granted([teacher(date(2026, 9, 1))])
    assert caught.value.rule is Rule.CONFLICT


def test_granting_is_once_per_policy_version() -> None:
    first = granted([teacher()])
    with pytest.raises(RuleBroken, match="granted already") as caught:
        granted([teacher(), first])
    assert caught.value.rule is Rule.CONFLICT
    corrected = POLICY.model_copy(
        update={"policy_version": 2, "base_funding_per_fte_pence": 70_000}
    )
    [second] = teacher_decider.run([teacher(), first], GrantEntitlement(YEAR, corrected, False))
    assert isinstance(second, EntitlementGranted)
    assert (second.policy_version, second.funding_pence) == (2, 70_000)
    state = teacher_decider.fold([teacher(), first, second])
    assert state.grants[YEAR] == second  # the correction replaces the grant


def test_no_policy_no_teacher_or_a_leaver_no_grant() -> None:
    with pytest.raises(RuleBroken, match="no entitlement policy") as caught:
        teacher_decider.run([teacher()], GrantEntitlement(YEAR, None, False))
    assert caught.value.rule is Rule.NOT_FOUND
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run([], GrantEntitlement(YEAR, POLICY, False))
    assert caught.value.rule is Rule.NOT_FOUND
    left = TeacherLeftProfession(trn="1234567", school_urn="100000", left_on=date(2025, 7, 1))
    with pytest.raises(RuleBroken, match="left the profession"):
        teacher_decider.run([teacher(), left], GrantEntitlement(YEAR, POLICY, False))


def test_grant_event_ids_are_deterministic() -> None:
    event = granted([teacher()])
    assert grant_event(event).event_id == grant_event(event).event_id
    assert grant_event(event).event_id == grant_event_id("1234567", YEAR, 1)
    assert grant_event_id("1234567", YEAR, 2) != grant_event_id("1234567", YEAR, 1)
    assert grant_event_id("1234568", YEAR, 1) != grant_event_id("1234567", YEAR, 1)


def test_a_registration_is_followed_by_the_years_grant_when_its_policy_is_out() -> None:
    registration = teacher(date(2026, 3, 1))
    decided = teacher_decider.decide(RegisterTeacher(registration, True), Teacher())
    events = with_registration_grant(Teacher(), decided, POLICY, school_pp50=False)
    assert events[0] == registration
    assert isinstance(events[1], EntitlementGranted)
    assert events[1].pro_rata_percent == Decimal("50.41")
    assert with_registration_grant(Teacher(), decided, None, False) == [registration]
    # a registration after the policy's year (a policy that does not apply) grants nothing
    late = teacher(date(2026, 9, 1))
    decided = teacher_decider.decide(RegisterTeacher(late, True), Teacher())
    assert with_registration_grant(Teacher(), decided, POLICY, False) == [late]
