"""A teacher's life in entitlement: requests (plan goals, cohorts), declining, withdrawing and
completing them, moving school, leaving, the development plan. Given events, when a command,
then events or a refusal naming the field. No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Event
from cpd_events.decider import Rule, RuleBroken
from cpd_events.entitlement_events import (
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDRequested,
    CPDWithdrawn,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    HoursLogged,
)
from cpd_events.registry_events import TeacherLeftProfession, TeacherMovedSchool, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, hours
from entitlement.domain.teacher import (
    AgreePlan,
    ApproveCPD,
    CohortOffer,
    CompleteCPD,
    CorrectHours,
    CourseOffer,
    DeclineCPD,
    LeaveProfession,
    LogHours,
    MoveSchool,
    RequestCPD,
    TeacherCommand,
    WithdrawCPD,
    completion,
    teacher_decider,
)

TRN, SCHOOL, NEW_SCHOOL = "1234567", "100000", "100001"
YEAR = "2025/26"
TODAY = date(2025, 11, 20)
COURSE = CourseOffer("npq-h", "NPQ Headship", 125_000, Decimal(60), retired=False)
REGISTERED = TeacherRegistered(
    trn=TRN,
    school_urn=SCHOOL,
    given_name="Ada",
    family_name="Lovelace",
    career_stage=CareerStage.EXPERIENCED,
    fte=Decimal(100),
    registered_on=date(2025, 9, 1),
)
GRANTED = EntitlementGranted(
    trn=TRN,
    school_urn=SCHOOL,
    academic_year=YEAR,
    policy_version=1,
    hours=hours("35"),
    funding_pence=600_000,
)
GIVEN: list[Event] = [REGISTERED, GRANTED]


def plan(*goals: str, year: str = YEAR, school: str = SCHOOL) -> DevelopmentPlanAgreed:
    return DevelopmentPlanAgreed(
        trn=TRN, school_urn=school, academic_year=year, goals=list(goals), agreed_with="Ms Lead"
    )


def requested(request_id: str = "r1", cost: int = 125_000) -> CPDRequested:
    return CPDRequested(
        request_id=request_id,
        trn=TRN,
        school_urn=SCHOOL,
        course_id="npq-h",
        academic_year=YEAR,
        cost_pence=cost,
        expected_hours=Decimal(60),
    )


def approved(request_id: str = "r1") -> CPDApproved:
    return CPDApproved(
        request_id=request_id, trn=TRN, school_urn=SCHOOL, approved_by="Head", cost_pence=125_000
    )


def refused(given: list[Event], command: TeacherCommand) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run(given, command)
    return caught.value


def request(**changes: object) -> RequestCPD:
    fields: dict[str, object] = {
        "request_id": "r1",
        "academic_year": YEAR,
        "course_id": "npq-h",
        "course": COURSE,
        "reason": "Headship in two years",
    }
    return RequestCPD(**{**fields, **changes})  # type: ignore[arg-type]


def cohort(booked: int, capacity: int = 20, course_id: str = "npq-h") -> CohortOffer:
    return CohortOffer("c-1", course_id, date(2026, 1, 10), capacity, booked)


# --- requests ---------------------------------------------------------------------------------


def test_a_request_may_cite_a_goal_of_the_current_plan() -> None:
    [event] = teacher_decider.run(
        [*GIVEN, plan("Lead behaviour", "Headship")], request(plan_goal="Headship")
    )
    assert isinstance(event, CPDRequested)
    assert (event.plan_goal, event.reason, event.cost_pence) == (
        "Headship",
        "Headship in two years",
        125_000,
    )


def test_a_request_citing_a_goal_outside_the_plan_is_refused() -> None:
    broken = refused([*GIVEN, plan("Lead behaviour")], request(plan_goal="Headship"))
    assert (broken.rule, broken.field) == (Rule.INVALID, "plan_goal")
    assert "not a goal of the current development plan" in broken.message


def test_a_request_citing_a_goal_needs_a_plan() -> None:
    broken = refused(GIVEN, request(plan_goal="Headship"))
    assert (broken.rule, broken.field) == (Rule.INVALID, "plan_goal")


def test_a_request_cites_the_current_plan_not_a_replaced_one() -> None:
    given = [*GIVEN, plan("Headship"), plan("Curriculum")]
    assert refused(given, request(plan_goal="Headship")).field == "plan_goal"
    assert teacher_decider.run(given, request(plan_goal="Curriculum"))


@pytest.mark.parametrize(
    ("course", "rule"),
    [
        (None, Rule.NOT_FOUND),
        (CourseOffer("npq-h", "Old", 100, Decimal(1), retired=True), Rule.INVALID),
    ],
)
def test_unknown_and_retired_courses_are_refused(course: CourseOffer | None, rule: Rule) -> None:
    broken = refused(GIVEN, request(course=course))
    assert (broken.rule, broken.field) == (rule, "course_id")


def test_a_request_for_a_cohort_with_a_place_names_the_cohort() -> None:
    [event] = teacher_decider.run(GIVEN, request(cohort_id="c-1", cohort=cohort(booked=19)))
    assert isinstance(event, CPDRequested)
    assert event.cohort_id == "c-1"


@pytest.mark.parametrize(
    ("offer", "rule", "words"),
    [
        (cohort(booked=20), Rule.CONFLICT, "is full (20 of 20 places booked)"),
        (None, Rule.NOT_FOUND, "no cohort c-1"),
        (cohort(booked=0, course_id="npq-sl"), Rule.INVALID, "runs course npq-sl"),
    ],
)
def test_full_unknown_or_other_course_cohorts_are_refused(
    offer: CohortOffer | None, rule: Rule, words: str
) -> None:
    broken = refused(GIVEN, request(cohort_id="c-1", cohort=offer))
    assert (broken.rule, broken.field) == (rule, "cohort_id")
    assert words in broken.message


# --- decline, withdraw, complete --------------------------------------------------------------


def test_a_requested_cpd_is_declined_with_a_reason() -> None:
    [event] = teacher_decider.run(
        [*GIVEN, requested()], DeclineCPD("r1", "Ms Lead", "Not in the plan")
    )
    assert event == CPDDeclined(
        request_id="r1",
        trn=TRN,
        school_urn=SCHOOL,
        declined_by="Ms Lead",
        reason="Not in the plan",
    )


def test_a_decline_needs_a_reason() -> None:
    broken = refused([*GIVEN, requested()], DeclineCPD("r1", "Ms Lead", "  "))
    assert (broken.rule, broken.field) == (Rule.INVALID, "reason")


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ([requested(), approved()], Rule.CONFLICT),
        ([requested(), CPDWithdrawn(request_id="r1", trn=TRN, school_urn=SCHOOL)], Rule.CONFLICT),
        ([], Rule.NOT_FOUND),
    ],
)
def test_only_a_requested_cpd_is_declined(given: list[Event], rule: Rule) -> None:
    broken = refused([*GIVEN, *given], DeclineCPD("r1", "Ms Lead", "No"))
    assert (broken.rule, broken.field) == (rule, "request_id")


def test_a_decliner_named_by_trn_must_decide_the_schools_requests() -> None:
    leads = frozenset({"7000001"})
    command = DeclineCPD("r1", "Mr Other", "No", "7000002", leads, "the CPD lead of school 1")
    broken = refused([*GIVEN, requested()], command)
    assert (broken.rule, broken.field) == (Rule.CONFLICT, "decliner_trn")
    assert "decided by the CPD lead of school 1" in broken.message
    lead = DeclineCPD("r1", "Ms Lead", "No", "7000001", leads)
    [declined] = teacher_decider.run([*GIVEN, requested()], lead)
    assert isinstance(declined, CPDDeclined)
    assert declined.decliner_trn == "7000001"


@pytest.mark.parametrize("given", [[requested()], [requested(), approved()]])
def test_a_requested_or_approved_cpd_is_withdrawn(given: list[Event]) -> None:
    [event] = teacher_decider.run([*GIVEN, *given], WithdrawCPD("r1", "changed school"))
    assert event == CPDWithdrawn(
        request_id="r1", trn=TRN, school_urn=SCHOOL, reason="changed school"
    )


@pytest.mark.parametrize(
    "closed",
    [
        CPDWithdrawn(request_id="r1", trn=TRN, school_urn=SCHOOL),
        CPDDeclined(request_id="r1", trn=TRN, school_urn=SCHOOL, declined_by="L", reason="no"),
    ],
)
def test_a_closed_request_is_not_withdrawn(closed: Event) -> None:
    broken = refused([*GIVEN, requested(), closed], WithdrawCPD("r1"))
    assert (broken.rule, broken.field) == (Rule.CONFLICT, "request_id")


def test_an_approved_cpd_is_completed_once() -> None:
    given = [*GIVEN, requested(), approved()]
    command = CompleteCPD("r1", date(2025, 11, 1), today=TODAY)
    [event] = teacher_decider.run(given, command)
    assert event == CPDCompleted(
        request_id="r1",
        trn=TRN,
        school_urn=SCHOOL,
        course_id="npq-h",
        completed_on=date(2025, 11, 1),
    )
    assert completion(command, teacher_decider.fold(given)) == event  # the pure function
    again = refused([*given, event], command)
    assert (again.rule, again.field) == (Rule.CONFLICT, "request_id")


def test_only_an_approved_cpd_is_completed() -> None:
    broken = refused([*GIVEN, requested()], CompleteCPD("r1", TODAY, today=TODAY))
    assert (broken.rule, broken.field) == (Rule.CONFLICT, "request_id")
    assert "request r1 is requested; it must be approved" in broken.message


def test_a_completion_is_not_in_the_future() -> None:
    broken = refused(
        [*GIVEN, requested(), approved()], CompleteCPD("r1", date(2025, 11, 21), today=TODAY)
    )
    assert (broken.rule, broken.field) == (Rule.INVALID, "completed_on")


# --- moving school ----------------------------------------------------------------------------


def test_a_teacher_moves_to_a_registered_school_and_their_record_follows() -> None:
    given = [*GIVEN, plan("Headship"), requested(), approved()]
    [moved] = teacher_decider.run(given, MoveSchool(NEW_SCHOOL, date(2026, 1, 5), True))
    assert moved == TeacherMovedSchool(
        trn=TRN, from_school_urn=SCHOOL, school_urn=NEW_SCHOOL, moved_on=date(2026, 1, 5)
    )
    after = [*given, moved]
    state = teacher_decider.fold(after)
    assert state.school_urn == NEW_SCHOOL
    assert state.grants[YEAR] == GRANTED  # the unspent entitlement stays with the teacher
    assert state.requests["r1"].status == "approved"
    [completed] = teacher_decider.run(after, CompleteCPD("r1", date(2026, 2, 1), date(2026, 2, 1)))
    assert isinstance(completed, CPDCompleted)
    assert completed.school_urn == NEW_SCHOOL  # later events carry the new school
    [again] = teacher_decider.run(after, request(request_id="r2", plan_goal="Headship"))
    assert isinstance(again, CPDRequested)
    assert again.school_urn == NEW_SCHOOL  # the plan moved too


def test_a_move_needs_a_registered_other_school_after_registration() -> None:
    unknown = refused(GIVEN, MoveSchool(NEW_SCHOOL, date(2026, 1, 5), False))
    assert (unknown.rule, unknown.field) == (Rule.NOT_FOUND, "school_urn")
    same = refused(GIVEN, MoveSchool(SCHOOL, date(2026, 1, 5), True))
    assert (same.rule, same.field) == (Rule.CONFLICT, "school_urn")
    early = refused(GIVEN, MoveSchool(NEW_SCHOOL, date(2025, 8, 31), True))
    assert (early.rule, early.field) == (Rule.INVALID, "moved_on")


# --- leaving ----------------------------------------------------------------------------------


LEFT = TeacherLeftProfession(trn=TRN, school_urn=SCHOOL, left_on=date(2026, 7, 31))


def test_a_teacher_leaves_the_profession() -> None:
    [event] = teacher_decider.run(GIVEN, LeaveProfession(date(2026, 7, 31)))
    assert event == LEFT
    early = refused(GIVEN, LeaveProfession(date(2025, 8, 1)))
    assert (early.rule, early.field) == (Rule.INVALID, "left_on")


@pytest.mark.parametrize(
    "command",
    [
        request(request_id="r2"),
        ApproveCPD("r1", "Head"),
        DeclineCPD("r1", "Lead", "no"),
        WithdrawCPD("r1"),
        CompleteCPD("r1", TODAY, TODAY),
        LogHours("l2", YEAR, Decimal(1), ActivityType.INSET, TODAY, today=TODAY),
        CorrectHours("l1", Decimal(2), "typo"),
        MoveSchool(NEW_SCHOOL, date(2026, 8, 1), True),
        LeaveProfession(date(2026, 8, 1)),
        AgreePlan(YEAR, ("Rest",), "Lead"),
    ],
)
def test_after_leaving_every_command_is_refused(command: TeacherCommand) -> None:
    logged = HoursLogged(
        log_id="l1",
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        hours=hours(1),
        activity_type=ActivityType.INSET,
        activity_date=TODAY,
    )
    broken = refused([*GIVEN, requested(), logged, LEFT], command)
    assert (broken.rule, broken.field) == (Rule.CONFLICT, "trn")
    assert "has left the profession" in broken.message


# --- development plan -------------------------------------------------------------------------


def test_a_plan_is_agreed_and_a_new_one_replaces_it() -> None:
    command = AgreePlan(YEAR, ("Lead behaviour", " Headship "), "Ms Lead", "2027/28")
    [first] = teacher_decider.run(GIVEN, command)
    assert first == DevelopmentPlanAgreed(
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        goals=["Lead behaviour", "Headship"],
        agreed_with="Ms Lead",
        until_academic_year="2027/28",
    )
    [second] = teacher_decider.run([*GIVEN, first], AgreePlan("2026/27", ("Curriculum",), "L"))
    state = teacher_decider.fold([*GIVEN, first, second])
    assert state.plan == second
    assert state.plans == (first, second)  # the history is kept


@pytest.mark.parametrize(
    ("goals", "words"),
    [
        ((), "1 to 20 goals, not 0"),
        (tuple(f"Goal {n}" for n in range(21)), "1 to 20 goals, not 21"),
        (("Headship", "Headship"), "Headship is listed twice"),
        (("Headship", " "), "cannot be empty"),
    ],
)
def test_a_plan_lists_1_to_20_distinct_goals(goals: tuple[str, ...], words: str) -> None:
    broken = refused(GIVEN, AgreePlan(YEAR, goals, "Ms Lead"))
    assert (broken.rule, broken.field) == (Rule.INVALID, "goals")
    assert words in broken.message


def test_a_plan_ends_after_it_starts_and_does_not_start_before_the_current_one() -> None:
    backwards = refused(GIVEN, AgreePlan(YEAR, ("A",), "L", "2024/25"))
    assert (backwards.rule, backwards.field) == (Rule.INVALID, "until_academic_year")
    earlier = refused([*GIVEN, plan("A")], AgreePlan("2024/25", ("B",), "L"))
    assert (earlier.rule, earlier.field) == (Rule.CONFLICT, "academic_year")
