"""Given events, when a command, then events (or a refusal). No I/O."""

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
    EntitlementPolicyPublished,
    HoursLogged,
)
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage
from entitlement.domain.policy import PublishPolicy, policy_decider
from entitlement.domain.registry import RegisterSchool, school_decider
from entitlement.domain.teacher import (
    ApproveCPD,
    CourseOffer,
    GrantEntitlement,
    LogHours,
    RegisterTeacher,
    RequestCPD,
    teacher_decider,
)

YEAR = "2025/26"
SCHOOL = SchoolRegistered(
    urn="100000", name="Hackney Primary", local_authority="201", phase="Primary", pp50=True
)
POLICY = EntitlementPolicyPublished(
    academic_year=YEAR,
    policy_version=1,
    minimum_hours=Decimal(35),
    base_funding_per_fte_pence=60_000,
    pp50_uplift_percent=Decimal(20),
    early_career_uplift_percent=Decimal(10),
    effective_from=date(2025, 9, 1),
)
COURSE = CourseOffer("npq-h", "NPQ Headship", 125_000, Decimal(60), retired=False)


def teacher(stage: CareerStage = CareerStage.EXPERIENCED, fte: str = "100") -> TeacherRegistered:
    return TeacherRegistered(
        trn="1234567",
        school_urn="100000",
        given_name="Ada",
        family_name="Lovelace",
        career_stage=stage,
        fte=Decimal(fte),
        registered_on=date(2025, 9, 1),
    )


def granted(stage: CareerStage = CareerStage.EXPERIENCED) -> list[Event]:
    registered = teacher(stage)
    return [registered, *teacher_decider.run([registered], GrantEntitlement(YEAR, POLICY, True))]


def test_a_school_registers_once() -> None:
    assert school_decider.run([], RegisterSchool(SCHOOL)) == [SCHOOL]
    with pytest.raises(RuleBroken) as caught:
        school_decider.run([SCHOOL], RegisterSchool(SCHOOL))
    assert caught.value.rule is Rule.CONFLICT


def test_a_corrected_policy_is_a_new_version() -> None:
    command = PublishPolicy(YEAR, Decimal(35), 60_000, Decimal(20), Decimal(10), date(2025, 9, 1))
    [first] = policy_decider.run([], command)
    [second] = policy_decider.run([first], command)
    assert (first.policy_version, second.policy_version) == (1, 2)  # type: ignore[attr-defined]


def test_a_teacher_needs_a_registered_school() -> None:
    with pytest.raises(RuleBroken, match="school 100000 is not registered") as caught:
        teacher_decider.run([], RegisterTeacher(teacher(), school_registered=False))
    assert caught.value.field == "school_urn"
    assert teacher_decider.run([], RegisterTeacher(teacher(), True)) == [teacher()]


@pytest.mark.parametrize(
    ("stage", "fte", "pp50", "hours", "pence"),
    [
        (CareerStage.EXPERIENCED, "100", False, "35.00", 60_000),
        (CareerStage.EXPERIENCED, "100", True, "35.00", 72_000),
        (CareerStage.ECT_YEAR_1, "100", True, "35.00", 79_200),
        (CareerStage.EXPERIENCED, "60", False, "21.00", 36_000),
        (CareerStage.ECT_YEAR_2, "50", False, "17.50", 33_000),
    ],
)
def test_grants_follow_policy_fte_disadvantage_and_career_stage(
    stage: CareerStage, fte: str, pp50: bool, hours: str, pence: int
) -> None:
    [grant] = teacher_decider.run([teacher(stage, fte)], GrantEntitlement(YEAR, POLICY, pp50))
    assert isinstance(grant, EntitlementGranted)
    assert (grant.hours, grant.funding_pence) == (Decimal(hours), pence)


def test_a_grant_needs_a_policy_and_is_not_repeated() -> None:
    with pytest.raises(RuleBroken, match="no entitlement policy") as caught:
        teacher_decider.run([teacher()], GrantEntitlement(YEAR, None, False))
    assert caught.value.rule is Rule.NOT_FOUND
    with pytest.raises(RuleBroken, match="granted already"):
        teacher_decider.run(granted(), GrantEntitlement(YEAR, POLICY, True))
    corrected = POLICY.model_copy(update={"policy_version": 2})
    assert teacher_decider.run(granted(), GrantEntitlement(YEAR, corrected, True))


def test_requesting_cpd_checks_course_and_entitlement() -> None:
    request = RequestCPD("r1", YEAR, "npq-h", COURSE)
    [requested] = teacher_decider.run(granted(), request)
    assert isinstance(requested, CPDRequested)
    assert (requested.cost_pence, requested.expected_hours) == (125_000, Decimal(60))
    with pytest.raises(RuleBroken, match="no course") as unknown:
        teacher_decider.run(granted(), RequestCPD("r1", YEAR, "nope", None))
    assert unknown.value.rule is Rule.NOT_FOUND
    retired = CourseOffer("old", "Old", 100, Decimal(1), retired=True)
    with pytest.raises(RuleBroken, match="retired"):
        teacher_decider.run(granted(), RequestCPD("r1", YEAR, "old", retired))
    with pytest.raises(RuleBroken, match="no entitlement granted"):
        teacher_decider.run([teacher()], request)
    with pytest.raises(RuleBroken, match="used already"):
        teacher_decider.run([*granted(), requested], request)


def test_approving_twice_is_refused() -> None:
    # within the teacher's £720.00 of entitlement funding (see test_entitlement_funding*.py)
    course = CourseOffer("inset-1", "INSET", 50_000, Decimal(6), retired=False)
    [requested] = teacher_decider.run(granted(), RequestCPD("r1", YEAR, "inset-1", course))
    [approved] = teacher_decider.run([*granted(), requested], ApproveCPD("r1", "Head"))
    assert isinstance(approved, CPDApproved)
    assert approved.cost_pence == 50_000
    with pytest.raises(RuleBroken, match="approved already") as caught:
        teacher_decider.run([*granted(), requested, approved], ApproveCPD("r1", "Head"))
    assert caught.value.rule is Rule.CONFLICT
    with pytest.raises(RuleBroken, match="no such request"):
        teacher_decider.run(granted(), ApproveCPD("r9", "Head"))


def test_logging_hours() -> None:
    log = LogHours("l1", YEAR, Decimal("1.5"), ActivityType.COURSE, date(2025, 10, 1))
    [logged] = teacher_decider.run(granted(), log)
    assert isinstance(logged, HoursLogged)
    assert logged.hours == Decimal("1.50")
    with pytest.raises(RuleBroken, match="used already"):
        teacher_decider.run([*granted(), logged], log)
    with pytest.raises(RuleBroken, match="no such teacher") as unknown:
        teacher_decider.run([], log)
    assert unknown.value.rule is Rule.NOT_FOUND
    linked = LogHours("l2", YEAR, Decimal(2), ActivityType.COURSE, date(2025, 10, 1), "r1")
    with pytest.raises(RuleBroken, match="approved request"):
        teacher_decider.run(granted(), linked)
