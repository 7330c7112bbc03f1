"""Hours: plausibility rules, corrections as new events, and the year's minimum being met.
Given events, when a command, then events or a refusal naming the field. No I/O."""

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
    EntitlementGranted,
    EntitlementPolicyPublished,
    HoursLogCorrected,
    HoursLogged,
    MinimumEntitlementMet,
)
from cpd_events.registry_events import TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, hours
from entitlement.domain.teacher import (
    CorrectHours,
    GrantEntitlement,
    LogHours,
    TeacherCommand,
    teacher_decider,
)

TRN, SCHOOL, YEAR = "1234567", "100000", "2025/26"
TODAY = date(2025, 11, 20)
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


def log(
    log_id: str = "l1",
    amount: str = "1.5",
    day: date = date(2025, 10, 1),
    year: str = YEAR,
    **extra: object,
) -> LogHours:
    return LogHours(
        log_id,
        year,
        Decimal(amount),
        ActivityType.COACHING,
        day,
        today=TODAY,
        **extra,  # type: ignore[arg-type]
    )


def logged(log_id: str, amount: str, day: date = date(2025, 10, 1)) -> HoursLogged:
    return HoursLogged(
        log_id=log_id,
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        hours=hours(amount),
        activity_type=ActivityType.COURSE,
        activity_date=day,
    )


def corrected(log_id: str, amount: str) -> HoursLogCorrected:
    return HoursLogCorrected(
        log_id=log_id,
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        corrected_hours=hours(amount),
        reason="typo",
    )


def refused(given: list[Event], command: TeacherCommand) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        teacher_decider.run(given, command)
    return caught.value


# --- logging ----------------------------------------------------------------------------------


def test_hours_are_logged_with_evidence_and_reflection() -> None:
    command = log(
        evidence_url="https://evidence.example.org/1",
        reflection="Tried think-pair-share",
        description="Coaching cycle",
    )
    [event] = teacher_decider.run(GIVEN, command)
    assert event == HoursLogged(
        log_id="l1",
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        hours=hours("1.5"),
        activity_type=ActivityType.COACHING,
        activity_date=date(2025, 10, 1),
        description="Coaching cycle",
        evidence_url="https://evidence.example.org/1",
        reflection="Tried think-pair-share",
    )


@pytest.mark.parametrize("activity", [ActivityType.SHADOWING, ActivityType.NETWORK])
def test_shadowing_and_networks_are_activity_types(activity: ActivityType) -> None:
    command = LogHours("l1", YEAR, Decimal(2), activity, date(2025, 10, 1), today=TODAY)
    [event] = teacher_decider.run(GIVEN, command)
    assert isinstance(event, HoursLogged)
    assert event.activity_type is activity


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_hours_are_more_than_zero(amount: str) -> None:
    broken = refused(GIVEN, log(amount=amount))
    assert (broken.rule, broken.field) == (Rule.INVALID, "hours")


def test_hours_are_not_logged_for_a_day_in_the_future() -> None:
    assert teacher_decider.run(GIVEN, log(day=TODAY))  # today is fine
    broken = refused(GIVEN, log(day=date(2025, 11, 21)))
    assert (broken.rule, broken.field) == (Rule.INVALID, "activity_date")
    assert "in the future" in broken.message


@pytest.mark.parametrize("day", [date(2025, 8, 31), date(2026, 9, 1)])
def test_hours_fall_inside_the_academic_year_named(day: date) -> None:
    command = LogHours("l1", YEAR, Decimal(1), ActivityType.INSET, day, today=date(2026, 9, 2))
    broken = refused(GIVEN, command)
    assert (broken.rule, broken.field) == (Rule.INVALID, "activity_date")
    assert "2025-09-01 to 2026-08-31" in broken.message


@pytest.mark.parametrize("day", [date(2025, 9, 1), date(2026, 8, 31)])
def test_the_first_and_last_days_of_the_year_count(day: date) -> None:
    command = LogHours("l1", YEAR, Decimal(1), ActivityType.INSET, day, today=date(2026, 9, 2))
    assert teacher_decider.run(GIVEN, command)


def test_at_most_12_hours_a_day_across_all_logs() -> None:
    given = [*GIVEN, logged("a", "8"), logged("b", "5", date(2025, 10, 2))]
    assert teacher_decider.run(given, log("c", "4"))  # 8 + 4 = 12
    broken = refused(given, log("c", "4.01"))
    assert (broken.rule, broken.field) == (Rule.INVALID, "hours")
    assert "2025-10-01 would have 12.01 hours logged: at most 12 a day" in broken.message


def test_a_completed_mentor_trainings_hours_do_not_count_against_the_day() -> None:
    training = log("t", "20", source="mentor-training:1234567:mt-course:2025-10-01")
    [event] = teacher_decider.run([*GIVEN, logged("a", "8")], training)
    assert isinstance(event, HoursLogged)
    assert teacher_decider.run([*GIVEN, logged("a", "8"), event], log("c", "4"))


def test_a_log_id_is_used_once() -> None:
    broken = refused([*GIVEN, logged("l1", "1")], log("l1"))
    assert (broken.rule, broken.field) == (Rule.CONFLICT, "log_id")


def test_hours_link_to_an_approved_or_completed_request_only() -> None:
    requested = CPDRequested(
        request_id="r1",
        trn=TRN,
        school_urn=SCHOOL,
        course_id="npq-h",
        academic_year=YEAR,
        cost_pence=100,
        expected_hours=Decimal(60),
    )
    approved = CPDApproved(
        request_id="r1", trn=TRN, school_urn=SCHOOL, approved_by="H", cost_pence=100
    )
    completed = CPDCompleted(
        request_id="r1",
        trn=TRN,
        school_urn=SCHOOL,
        course_id="npq-h",
        completed_on=date(2025, 10, 1),
    )
    declined = CPDDeclined(
        request_id="r1", trn=TRN, school_urn=SCHOOL, declined_by="L", reason="no"
    )
    assert teacher_decider.run([*GIVEN, requested, approved], log(request_id="r1"))
    assert teacher_decider.run([*GIVEN, requested, approved, completed], log(request_id="r1"))
    for given in ([requested], [requested, declined], []):
        broken = refused([*GIVEN, *given], log(request_id="r1"))
        assert (broken.rule, broken.field) == (Rule.CONFLICT, "request_id")


# --- corrections ------------------------------------------------------------------------------


def test_a_correction_is_a_new_event_about_a_known_log() -> None:
    given = [*GIVEN, logged("l1", "5")]
    [event] = teacher_decider.run(given, CorrectHours("l1", Decimal("3.25"), "typo"))
    assert event == corrected("l1", "3.25")
    state = teacher_decider.fold([*given, event])
    assert state.hours_in(YEAR) == Decimal("3.25")
    unknown = refused(given, CorrectHours("l9", Decimal(1), "typo"))
    assert (unknown.rule, unknown.field) == (Rule.NOT_FOUND, "log_id")


def test_a_correction_may_undo_a_log_but_needs_a_reason_and_a_change() -> None:
    given = [*GIVEN, logged("l1", "5")]
    [undone] = teacher_decider.run(given, CorrectHours("l1", Decimal(0), "logged by mistake"))
    assert isinstance(undone, HoursLogCorrected)
    assert undone.corrected_hours == 0
    no_reason = refused(given, CorrectHours("l1", Decimal(1), " "))
    assert (no_reason.rule, no_reason.field) == (Rule.INVALID, "reason")
    same = refused(given, CorrectHours("l1", Decimal(5), "again"))
    assert (same.rule, same.field) == (Rule.CONFLICT, "corrected_hours")
    negative = refused(given, CorrectHours("l1", Decimal(-1), "minus"))
    assert (negative.rule, negative.field) == (Rule.INVALID, "corrected_hours")


def test_a_correction_obeys_the_daily_cap() -> None:
    given = [*GIVEN, logged("a", "8"), logged("b", "3")]
    assert teacher_decider.run(given, CorrectHours("b", Decimal(4), "longer"))  # 12
    broken = refused(given, CorrectHours("b", Decimal("4.5"), "longer"))
    assert (broken.rule, broken.field) == (Rule.INVALID, "corrected_hours")
    assert teacher_decider.run(given, CorrectHours("a", Decimal(9), "longer"))  # 9 + 3


# --- the year's minimum -----------------------------------------------------------------------


def days(*pairs: tuple[str, int]) -> list[Event]:
    """Logs of the given hours on October days: ("10", 1) is 10 hours on 1 October."""
    return [logged(f"d{day}", amount, date(2025, 10, day)) for amount, day in pairs]


def test_the_log_that_reaches_the_minimum_also_records_it() -> None:
    given = [*GIVEN, *days(("10", 1), ("10", 2), ("10", 3))]  # 30 of 35
    [short] = teacher_decider.run(given, log("x", "4.99", date(2025, 10, 4)))
    assert isinstance(short, HoursLogged)

    events = teacher_decider.run(given, log("x", "5", date(2025, 10, 4)))

    assert [type(e) for e in events] == [HoursLogged, MinimumEntitlementMet]
    assert events[1] == MinimumEntitlementMet(
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        minimum_hours=hours("35"),
        hours_logged=hours("35"),
        met_on=date(2025, 10, 4),
    )


def test_met_on_is_the_day_the_hours_in_date_order_reach_the_minimum() -> None:
    given = [*GIVEN, *days(("10", 1), ("10", 2), ("10", 3))]
    backdated = log("x", "6", date(2025, 9, 15))  # 6 + 10 + 10 + 10 = 36 by 3 October
    [_, met] = teacher_decider.run(given, backdated)
    assert isinstance(met, MinimumEntitlementMet)
    assert (met.met_on, met.hours_logged) == (date(2025, 10, 3), hours("36"))


def test_the_minimum_is_met_once_a_year_and_a_correction_below_does_not_retract_it() -> None:
    given = [*GIVEN, *days(("10", 1), ("10", 2), ("10", 3))]
    logged_and_met = list(teacher_decider.run(given, log("x", "5", date(2025, 10, 4))))
    after = [*given, *logged_and_met]
    assert teacher_decider.run(after, log("y", "1", date(2025, 10, 5))) == [
        logged_and_met[0].model_copy(
            update={"log_id": "y", "hours": hours(1), "activity_date": date(2025, 10, 5)}
        )
    ]
    [down] = teacher_decider.run(after, CorrectHours("x", Decimal(1), "shorter"))
    [up] = teacher_decider.run([*after, down], CorrectHours("x", Decimal(6), "longer"))
    assert isinstance(up, HoursLogCorrected)  # and no second MinimumEntitlementMet


def test_a_correction_that_reaches_the_minimum_records_it() -> None:
    given = [*GIVEN, *days(("10", 1), ("10", 2), ("10", 3), ("4", 4))]
    events = teacher_decider.run(given, CorrectHours("d4", Decimal(5), "longer"))
    assert [type(e) for e in events] == [HoursLogCorrected, MinimumEntitlementMet]


def test_without_a_grant_there_is_no_minimum_to_meet() -> None:
    given = [REGISTERED, *days(("10", 1), ("10", 2), ("10", 3))]
    [event] = teacher_decider.run(given, log("x", "10", date(2025, 10, 4)))
    assert isinstance(event, HoursLogged)


def test_a_grant_made_once_the_hours_are_in_records_the_minimum_met() -> None:
    policy = EntitlementPolicyPublished(
        academic_year=YEAR,
        policy_version=1,
        minimum_hours=Decimal(35),
        base_funding_per_fte_pence=60_000,
        pp50_uplift_percent=Decimal(0),
        early_career_uplift_percent=Decimal(0),
        effective_from=date(2025, 9, 1),
    )
    given = [REGISTERED, *days(("10", 1), ("10", 2), ("10", 3), ("6", 4))]
    events = teacher_decider.run(given, GrantEntitlement(YEAR, policy, False))
    assert [type(e) for e in events] == [EntitlementGranted, MinimumEntitlementMet]
    assert events[1].met_on == date(2025, 10, 4)  # type: ignore[attr-defined]
