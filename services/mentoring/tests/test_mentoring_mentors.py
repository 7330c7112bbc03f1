"""Mentor decider: given past events, when a command arrives, then these events (or a refusal)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import (
    LeadMentorDesignated,
    MentorAssigned,
    MentorCapacitySet,
    MentoringSessionLogged,
    MentorRegistered,
    MentorSchoolAdded,
    MentorshipEnded,
    MentorTrainingCompleted,
)
from cpd_events.types import CareerStage, MentoringProgramme
from mentoring.domain import (
    DEFAULT_CAPACITY,
    AddMentorSchool,
    AssignMentor,
    CompleteMentorTraining,
    EndMentorship,
    LogSession,
    MentorCommand,
    RegisterMentor,
    SetMentorCapacity,
    TeacherFacts,
    mentor_decider,
)

MENTOR = "1000001"
SCHOOL = "100000"
OTHER_SCHOOL = "100001"
ECF = MentoringProgramme.EARLY_CAREER_INDUCTION
STARTS = date(2025, 9, 1)
REGISTERED = MentorRegistered(trn=MENTOR, school_urn=SCHOOL)
MENTOR_TEACHER = TeacherFacts(MENTOR, SCHOOL, CareerStage.EXPERIENCED, date(2015, 9, 1))
LEFT = date(2025, 12, 31)


def mentee(n: int) -> str:
    return f"200000{n}"


def mentee_facts(n: int, school_urn: str = SCHOOL, left_on: date | None = None) -> TeacherFacts:
    return TeacherFacts(mentee(n), school_urn, CareerStage.ECT_YEAR_1, STARTS, left_on)


def assign(
    n: int,
    programme: MentoringProgramme = ECF,
    assignment_id: str = "",
    school_urn: str | None = SCHOOL,
    mentor_teacher: TeacherFacts | None = MENTOR_TEACHER,
    mentee_teacher: TeacherFacts | None = None,
) -> AssignMentor:
    return AssignMentor(
        trn=MENTOR,
        assignment_id=assignment_id or f"asg-{n}",
        mentee_trn=mentee(n),
        school_urn=school_urn,
        programme=programme,
        starts_on=STARTS,
        mentor_teacher=mentor_teacher,
        mentee_teacher=mentee_teacher or mentee_facts(n),
    )


def assigned(
    n: int, programme: MentoringProgramme = ECF, assignment_id: str = "", school_urn: str = SCHOOL
) -> Event:
    return MentorAssigned(
        assignment_id=assignment_id or f"asg-{n}",
        trn=MENTOR,
        mentee_trn=mentee(n),
        school_urn=school_urn,
        programme=programme,
        starts_on=STARTS,
    )


def ended(n: int, on: date = date(2026, 7, 20)) -> Event:
    return MentorshipEnded(
        assignment_id=f"asg-{n}", trn=MENTOR, mentee_trn=mentee(n), ended_on=on, reason="done"
    )


def refusal(given: list[Event], command: MentorCommand) -> tuple[Rule, str | None]:
    with pytest.raises(RuleBroken) as caught:
        mentor_decider.run(given=given, command=command)
    return caught.value.rule, caught.value.field


# --- registration -----------------------------------------------------------------------------


def register(teacher: TeacherFacts | None = MENTOR_TEACHER, known: bool = True) -> RegisterMentor:
    return RegisterMentor(trn=MENTOR, school_urn=SCHOOL, teacher=teacher, school_registered=known)


def test_a_teacher_is_registered_as_a_mentor_at_a_school() -> None:
    assert mentor_decider.run(given=[], command=register()) == [REGISTERED]


def test_a_mentor_is_registered_once() -> None:
    assert refusal([REGISTERED], register()) == (Rule.CONFLICT, "trn")


def test_a_mentor_must_be_a_registered_teacher() -> None:
    assert refusal([], register(teacher=None)) == (Rule.NOT_FOUND, "trn")


def test_a_teacher_who_left_the_profession_cannot_become_a_mentor() -> None:
    left = replace(MENTOR_TEACHER, left_on=LEFT)
    assert refusal([], register(teacher=left)) == (Rule.CONFLICT, "trn")


def test_a_mentor_is_registered_at_a_registered_school() -> None:
    assert refusal([], register(known=False)) == (Rule.NOT_FOUND, "school_urn")


# --- schools served ---------------------------------------------------------------------------


def add_school(
    urn: str = OTHER_SCHOOL, teacher: TeacherFacts | None = MENTOR_TEACHER, known: bool = True
) -> AddMentorSchool:
    return AddMentorSchool(trn=MENTOR, school_urn=urn, teacher=teacher, school_registered=known)


def test_a_mentor_serves_several_schools() -> None:
    then = mentor_decider.run(given=[REGISTERED], command=add_school())
    assert then == [MentorSchoolAdded(trn=MENTOR, school_urn=OTHER_SCHOOL)]
    mentor = mentor_decider.fold([REGISTERED, *then])
    assert mentor is not None
    assert mentor.schools == (SCHOOL, OTHER_SCHOOL)
    assert mentor.school_urn == SCHOOL


def test_an_unknown_mentor_serves_no_school() -> None:
    assert refusal([], add_school()) == (Rule.NOT_FOUND, None)


def test_a_mentor_serves_only_registered_schools() -> None:
    assert refusal([REGISTERED], add_school(known=False)) == (Rule.NOT_FOUND, "school_urn")


@pytest.mark.parametrize("urn", [SCHOOL, OTHER_SCHOOL])
def test_a_mentor_serves_a_school_once(urn: str) -> None:
    given = [REGISTERED, MentorSchoolAdded(trn=MENTOR, school_urn=OTHER_SCHOOL)]
    assert refusal(given, add_school(urn)) == (Rule.CONFLICT, "school_urn")


def test_a_mentor_who_left_the_profession_serves_no_more_schools() -> None:
    left = replace(MENTOR_TEACHER, left_on=LEFT)
    assert refusal([REGISTERED], add_school(teacher=left)) == (Rule.CONFLICT, "trn")


# --- training ---------------------------------------------------------------------------------


def training(
    course_id: str = "ucl-mentor-development", hours: str = "20"
) -> CompleteMentorTraining:
    return CompleteMentorTraining(MENTOR, course_id, date(2025, 7, 10), Decimal(hours))


TRAINED = MentorTrainingCompleted(
    trn=MENTOR,
    course_id="ucl-mentor-development",
    completed_on=date(2025, 7, 10),
    hours=Decimal("20"),
)


def test_a_mentor_completes_training_which_counts_as_cpd_hours() -> None:
    assert mentor_decider.run(given=[REGISTERED], command=training()) == [TRAINED]
    assert TRAINED.hours == Decimal("20.00")


def test_an_unknown_mentor_completes_no_training() -> None:
    assert refusal([], training()) == (Rule.NOT_FOUND, None)


def test_a_training_course_is_completed_once() -> None:
    assert refusal([REGISTERED, TRAINED], training()) == (Rule.CONFLICT, "course_id")
    other = training("ambition-mentor-refresher", "6")
    assert len(mentor_decider.run(given=[REGISTERED, TRAINED], command=other)) == 1


def test_a_training_counts_for_some_hours() -> None:
    assert refusal([REGISTERED], training(hours="0")) == (Rule.INVALID, "hours")


# --- capacity ---------------------------------------------------------------------------------


def test_a_registered_mentor_gets_a_capacity() -> None:
    then = mentor_decider.run(given=[REGISTERED], command=SetMentorCapacity(MENTOR, 5))
    assert then == [MentorCapacitySet(trn=MENTOR, max_mentees=5)]


def test_an_unknown_mentor_gets_no_capacity() -> None:
    assert refusal([], SetMentorCapacity(MENTOR, 5)) == (Rule.NOT_FOUND, None)


@pytest.mark.parametrize("max_mentees", [-1, 51])
def test_a_capacity_stays_within_bounds(max_mentees: int) -> None:
    command = SetMentorCapacity(MENTOR, max_mentees)
    assert refusal([REGISTERED], command) == (Rule.INVALID, "max_mentees")


# --- assignment -------------------------------------------------------------------------------


def test_a_registered_mentor_is_assigned_a_mentee() -> None:
    assert mentor_decider.run(given=[REGISTERED], command=assign(1)) == [assigned(1)]


def test_an_unknown_mentor_is_assigned_nobody() -> None:
    assert refusal([], assign(1)) == (Rule.NOT_FOUND, None)


def test_a_teacher_cannot_mentor_themselves() -> None:
    command = replace(assign(1), mentee_trn=MENTOR, mentee_teacher=MENTOR_TEACHER)
    assert refusal([REGISTERED], command) == (Rule.INVALID, "mentee_trn")


def test_a_mentor_who_left_the_profession_is_assigned_nobody() -> None:
    command = assign(1, mentor_teacher=replace(MENTOR_TEACHER, left_on=LEFT))
    assert refusal([REGISTERED], command) == (Rule.CONFLICT, None)


def test_a_mentor_unknown_to_the_registry_is_assigned_nobody() -> None:
    assert refusal([REGISTERED], assign(1, mentor_teacher=None)) == (Rule.NOT_FOUND, None)


def test_a_mentee_must_be_a_registered_teacher() -> None:
    command = replace(assign(1), mentee_teacher=None)
    assert refusal([REGISTERED], command) == (Rule.NOT_FOUND, "mentee_trn")


def test_a_mentee_who_left_the_profession_gets_no_mentor() -> None:
    command = assign(1, mentee_teacher=mentee_facts(1, left_on=LEFT))
    assert refusal([REGISTERED], command) == (Rule.CONFLICT, "mentee_trn")


def test_the_mentorship_is_at_the_mentees_school_by_default() -> None:
    given = [REGISTERED, MentorSchoolAdded(trn=MENTOR, school_urn=OTHER_SCHOOL)]
    command = assign(1, school_urn=None, mentee_teacher=mentee_facts(1, OTHER_SCHOOL))
    assert mentor_decider.run(given=given, command=command) == [
        assigned(1, school_urn=OTHER_SCHOOL)
    ]


def test_the_mentorship_is_at_no_other_school_than_the_mentees() -> None:
    command = assign(1, school_urn=SCHOOL, mentee_teacher=mentee_facts(1, OTHER_SCHOOL))
    assert refusal([REGISTERED], command) == (Rule.INVALID, "school_urn")


def test_a_mentor_mentors_only_at_schools_they_serve() -> None:
    command = assign(1, school_urn=None, mentee_teacher=mentee_facts(1, OTHER_SCHOOL))
    assert refusal([REGISTERED], command) == (Rule.CONFLICT, "school_urn")


def test_an_assignment_id_is_used_once() -> None:
    command = assign(2, assignment_id="asg-1")
    assert refusal([REGISTERED, assigned(1)], command) == (Rule.CONFLICT, "assignment_id")


def test_an_ended_assignment_id_is_not_reused() -> None:
    command = assign(2, assignment_id="asg-1")
    assert refusal([REGISTERED, assigned(1), ended(1)], command) == (
        Rule.CONFLICT,
        "assignment_id",
    )


def test_a_mentor_holds_one_active_mentorship_per_mentee_and_programme() -> None:
    given = [REGISTERED, assigned(1)]
    assert refusal(given, assign(1, assignment_id="asg-again")) == (Rule.CONFLICT, "mentee_trn")
    other_programme = assign(1, MentoringProgramme.NPQ, assignment_id="asg-npq")
    assert mentor_decider.run(given=given, command=other_programme) == [
        assigned(1, MentoringProgramme.NPQ, assignment_id="asg-npq")
    ]
    after_the_end = [*given, ended(1)]
    again = assign(1, assignment_id="asg-again")
    assert mentor_decider.run(given=after_the_end, command=again) == [
        assigned(1, assignment_id="asg-again")
    ]


def test_the_default_capacity_is_three_mentees() -> None:
    assert DEFAULT_CAPACITY == 3
    three = [REGISTERED, assigned(1), assigned(2), assigned(3)]
    assert refusal(three, assign(4)) == (Rule.CONFLICT, None)


def test_a_set_capacity_replaces_the_default() -> None:
    given = [REGISTERED, MentorCapacitySet(trn=MENTOR, max_mentees=4)]
    given += [assigned(1), assigned(2), assigned(3)]
    assert mentor_decider.run(given=given, command=assign(4)) == [assigned(4)]
    assert refusal([*given, assigned(4)], assign(5)) == (Rule.CONFLICT, None)


def test_a_capacity_of_zero_takes_no_mentee() -> None:
    given = [REGISTERED, MentorCapacitySet(trn=MENTOR, max_mentees=0)]
    assert refusal(given, assign(1)) == (Rule.CONFLICT, None)


def test_a_capacity_below_the_active_count_keeps_them_but_takes_no_more() -> None:
    given = [REGISTERED, assigned(1), assigned(2), MentorCapacitySet(trn=MENTOR, max_mentees=1)]
    assert refusal(given, assign(3)) == (Rule.CONFLICT, None)
    assert mentor_decider.run(given=[*given, ended(1), ended(2)], command=assign(3)) == [
        assigned(3)
    ]


def test_ended_mentorships_free_capacity() -> None:
    given = [REGISTERED, assigned(1), assigned(2), assigned(3), ended(2)]
    assert mentor_decider.run(given=given, command=assign(4)) == [assigned(4)]


# --- ending -----------------------------------------------------------------------------------


def end(n: int, on: date = date(2026, 7, 20)) -> EndMentorship:
    return EndMentorship(trn=MENTOR, assignment_id=f"asg-{n}", ended_on=on, reason="done")


def test_an_active_mentorship_ends_with_a_reason() -> None:
    assert mentor_decider.run(given=[REGISTERED, assigned(1)], command=end(1)) == [ended(1)]


def test_a_mentorship_may_end_the_day_it_starts() -> None:
    then = mentor_decider.run(given=[REGISTERED, assigned(1)], command=end(1, STARTS))
    assert then == [ended(1, STARTS)]


def test_an_unknown_mentor_ends_nothing() -> None:
    assert refusal([], end(1)) == (Rule.NOT_FOUND, None)


def test_an_unknown_assignment_cannot_end() -> None:
    assert refusal([REGISTERED, assigned(1)], end(2)) == (Rule.NOT_FOUND, None)


def test_a_mentorship_ends_once() -> None:
    assert refusal([REGISTERED, assigned(1), ended(1)], end(1)) == (Rule.CONFLICT, None)


def test_a_mentorship_cannot_end_before_it_starts() -> None:
    command = end(1, date(2025, 8, 31))
    assert refusal([REGISTERED, assigned(1)], command) == (Rule.INVALID, "ended_on")


# --- sessions ---------------------------------------------------------------------------------


def session(
    session_id: str = "ses-1",
    assignment_id: str = "asg-1",
    held_on: date = date(2025, 10, 1),
    minutes: int = 50,
    focus: str = "behaviour management",
    mentor_teacher: TeacherFacts | None = MENTOR_TEACHER,
) -> LogSession:
    return LogSession(MENTOR, session_id, assignment_id, held_on, minutes, focus, mentor_teacher)


def logged(session_id: str = "ses-1", held_on: date = date(2025, 10, 1)) -> MentoringSessionLogged:
    return MentoringSessionLogged(
        session_id=session_id,
        assignment_id="asg-1",
        trn=MENTOR,
        mentee_trn=mentee(1),
        school_urn=SCHOOL,
        mentor_school_urn=SCHOOL,
        programme=ECF,
        held_on=held_on,
        minutes=50,
        hours=Decimal("0.83"),
        focus="behaviour management",
        academic_year="2025/26",
    )


def test_a_session_carries_what_entitlement_needs_for_both_teachers() -> None:
    then = mentor_decider.run(given=[REGISTERED, assigned(1)], command=session())
    assert then == [logged()]
    (event,) = then
    assert isinstance(event, MentoringSessionLogged)
    assert (event.trn, event.mentee_trn) == (MENTOR, mentee(1))
    assert (event.hours, event.academic_year) == (Decimal("0.83"), "2025/26")


def test_a_session_names_the_mentors_own_school_and_the_mentees() -> None:
    moved = replace(MENTOR_TEACHER, school_urn="100002")
    (event,) = mentor_decider.run(
        given=[REGISTERED, assigned(1)], command=session(mentor_teacher=moved)
    )
    assert isinstance(event, MentoringSessionLogged)
    assert (event.mentor_school_urn, event.school_urn) == ("100002", SCHOOL)
    (fallback,) = mentor_decider.run(
        given=[REGISTERED, assigned(1)], command=session(mentor_teacher=None)
    )
    assert isinstance(fallback, MentoringSessionLogged)
    assert fallback.mentor_school_urn == SCHOOL  # the school the mentor was registered at


@pytest.mark.parametrize(
    ("minutes", "hours"), [(1, "0.02"), (45, "0.75"), (50, "0.83"), (90, "1.50"), (480, "8.00")]
)
def test_session_hours_are_minutes_over_sixty_to_two_places(minutes: int, hours: str) -> None:
    (event,) = mentor_decider.run(given=[REGISTERED, assigned(1)], command=session(minutes=minutes))
    assert isinstance(event, MentoringSessionLogged)
    assert event.hours == Decimal(hours)


def test_an_unknown_mentor_logs_no_session() -> None:
    assert refusal([], session()) == (Rule.NOT_FOUND, None)


def test_a_session_belongs_to_an_assignment_of_the_mentor() -> None:
    given = [REGISTERED, assigned(1)]
    assert refusal(given, session(assignment_id="asg-2")) == (Rule.NOT_FOUND, "assignment_id")


def test_a_session_belongs_to_an_active_assignment() -> None:
    given = [REGISTERED, assigned(1), ended(1)]
    assert refusal(given, session()) == (Rule.CONFLICT, "assignment_id")


def test_a_session_is_held_on_or_after_the_mentorship_starts() -> None:
    given = [REGISTERED, assigned(1)]
    assert refusal(given, session(held_on=date(2025, 8, 31))) == (Rule.INVALID, "held_on")
    assert mentor_decider.run(given=given, command=session(held_on=STARTS)) == [
        logged(held_on=STARTS)
    ]


def test_a_session_id_is_used_once_per_mentor() -> None:
    given = [REGISTERED, assigned(1), logged()]
    assert refusal(given, session()) == (Rule.CONFLICT, "session_id")
    assert mentor_decider.run(given=given, command=session("ses-2")) == [logged("ses-2")]


@pytest.mark.parametrize("minutes", [0, 481])
def test_a_session_lasts_one_to_480_minutes(minutes: int) -> None:
    given = [REGISTERED, assigned(1)]
    assert refusal(given, session(minutes=minutes)) == (Rule.INVALID, "minutes")


def test_a_session_has_a_focus() -> None:
    assert refusal([REGISTERED, assigned(1)], session(focus="  ")) == (Rule.INVALID, "focus")


# --- state ------------------------------------------------------------------------------------


def test_the_mentor_state_follows_the_stream() -> None:
    mentor = mentor_decider.fold(
        [
            REGISTERED,
            MentorCapacitySet(trn=MENTOR, max_mentees=2),
            LeadMentorDesignated(trn=MENTOR, school_urn=SCHOOL),  # another stream's: ignored
            TRAINED,
            assigned(1),
            assigned(2),
            logged(),
            ended(1),
        ]
    )
    assert mentor is not None
    assert (mentor.trn, mentor.school_urn, mentor.max_mentees) == (MENTOR, SCHOOL, 2)
    assert [a.assignment_id for a in mentor.assignments] == ["asg-1", "asg-2"]
    assert [a.assignment_id for a in mentor.active] == ["asg-2"]
    first = mentor.assignment("asg-1")
    assert first is not None
    assert (first.ended_on, first.end_reason) == (date(2026, 7, 20), "done")
    assert [t.course_id for t in mentor.trainings] == ["ucl-mentor-development"]
    assert [(s.session_id, s.minutes, s.hours) for s in mentor.sessions] == [
        ("ses-1", 50, Decimal("0.83"))
    ]
    assert mentor_decider.fold([]) is None
