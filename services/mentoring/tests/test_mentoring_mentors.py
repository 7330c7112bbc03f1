"""Mentor decider: given past events, when a command arrives, then these events."""

from __future__ import annotations

from datetime import date

import pytest

from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import (
    LeadMentorDesignated,
    MentorAssigned,
    MentorCapacitySet,
    MentorRegistered,
    MentorshipEnded,
)
from cpd_events.types import MentoringProgramme
from mentoring.domain import (
    DEFAULT_CAPACITY,
    AssignMentor,
    EndMentorship,
    MentorCommand,
    RegisterMentor,
    SetMentorCapacity,
    mentor_decider,
)

MENTOR = "1000001"
SCHOOL = "100000"
ECF = MentoringProgramme.EARLY_CAREER_INDUCTION
STARTS = date(2025, 9, 1)
REGISTERED = MentorRegistered(trn=MENTOR, school_urn=SCHOOL)


def mentee(n: int) -> str:
    return f"200000{n}"


def assign(n: int, programme: MentoringProgramme = ECF, assignment_id: str = "") -> AssignMentor:
    return AssignMentor(
        trn=MENTOR,
        assignment_id=assignment_id or f"asg-{n}",
        mentee_trn=mentee(n),
        school_urn=SCHOOL,
        programme=programme,
        starts_on=STARTS,
    )


def assigned(n: int, programme: MentoringProgramme = ECF, assignment_id: str = "") -> Event:
    return MentorAssigned(
        assignment_id=assignment_id or f"asg-{n}",
        trn=MENTOR,
        mentee_trn=mentee(n),
        school_urn=SCHOOL,
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


def test_a_mentor_is_registered() -> None:
    command = RegisterMentor(trn=MENTOR, school_urn=SCHOOL)
    assert mentor_decider.run(given=[], command=command) == [REGISTERED]


def test_a_mentor_is_registered_once() -> None:
    command = RegisterMentor(trn=MENTOR, school_urn="100001")
    assert refusal([REGISTERED], command) == (Rule.CONFLICT, "trn")


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
    command = AssignMentor(
        trn=MENTOR,
        assignment_id="asg-self",
        mentee_trn=MENTOR,
        school_urn=SCHOOL,
        programme=ECF,
        starts_on=STARTS,
    )
    assert refusal([REGISTERED], command) == (Rule.INVALID, "mentee_trn")


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


def test_an_active_mentorship_ends() -> None:
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


# --- state ------------------------------------------------------------------------------------


def test_the_mentor_state_follows_the_stream() -> None:
    mentor = mentor_decider.fold(
        [
            REGISTERED,
            MentorCapacitySet(trn=MENTOR, max_mentees=2),
            LeadMentorDesignated(trn=MENTOR, school_urn=SCHOOL),  # not tracked yet: ignored
            assigned(1),
            assigned(2),
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
    assert mentor_decider.fold([]) is None
