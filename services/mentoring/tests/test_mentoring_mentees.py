"""Mentee decider: the mentee's side of mentorships, across mentors (given/when/then)."""

from __future__ import annotations

from datetime import date

import pytest

from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import MenteeMatched, MenteeReleased
from cpd_events.types import MentoringProgramme
from mentoring.domain import (
    MatchMentee,
    MenteeCommand,
    ReleaseMentee,
    ReplaceMentor,
    mentee_decider,
)

MENTEE = "2000001"
MENTOR_A, MENTOR_B = "1000001", "1000002"
SCHOOL = "100000"
ECF = MentoringProgramme.EARLY_CAREER_INDUCTION
NPQ = MentoringProgramme.NPQ
STARTS = date(2025, 9, 1)
ON = date(2026, 1, 5)


def match(
    mentor: str = MENTOR_A, assignment_id: str = "asg-1", programme: MentoringProgramme = ECF
) -> MatchMentee:
    return MatchMentee(MENTEE, assignment_id, mentor, programme, SCHOOL, STARTS)


def matched(
    mentor: str = MENTOR_A,
    assignment_id: str = "asg-1",
    programme: MentoringProgramme = ECF,
    starts_on: date = STARTS,
) -> MenteeMatched:
    return MenteeMatched(
        assignment_id=assignment_id,
        trn=MENTEE,
        mentor_trn=mentor,
        programme=programme,
        school_urn=SCHOOL,
        starts_on=starts_on,
    )


def released(
    mentor: str = MENTOR_A, assignment_id: str = "asg-1", on: date = ON, reason: str = "moved on"
) -> MenteeReleased:
    return MenteeReleased(
        assignment_id=assignment_id,
        trn=MENTEE,
        mentor_trn=mentor,
        programme=ECF,
        ended_on=on,
        reason=reason,
    )


def refusal(given: list[Event], command: MenteeCommand) -> tuple[Rule, str | None]:
    with pytest.raises(RuleBroken) as caught:
        mentee_decider.run(given=given, command=command)
    return caught.value.rule, caught.value.field


# --- matching ---------------------------------------------------------------------------------


def test_a_mentee_is_matched_with_a_mentor() -> None:
    assert mentee_decider.run(given=[], command=match()) == [matched()]


def test_a_mentee_has_one_active_mentor_per_programme_across_mentors() -> None:
    given: list[Event] = [matched(MENTOR_A)]
    assert refusal(given, match(MENTOR_B, "asg-9")) == (Rule.CONFLICT, "mentee_trn")


def test_a_mentee_may_have_mentors_on_different_programmes() -> None:
    given: list[Event] = [matched(MENTOR_A)]
    then = mentee_decider.run(given=given, command=match(MENTOR_B, "asg-9", NPQ))
    assert then == [matched(MENTOR_B, "asg-9", NPQ)]


def test_a_released_mentee_may_be_matched_again() -> None:
    given: list[Event] = [matched(MENTOR_A), released(MENTOR_A)]
    assert mentee_decider.run(given=given, command=match(MENTOR_B, "asg-9")) == [
        matched(MENTOR_B, "asg-9")
    ]


# --- releasing --------------------------------------------------------------------------------


def release(mentor: str = MENTOR_A, assignment_id: str = "asg-1") -> ReleaseMentee:
    return ReleaseMentee(MENTEE, mentor, assignment_id, ON, "moved on")


def test_a_mentee_is_released_when_the_mentorship_ends() -> None:
    assert mentee_decider.run(given=[matched()], command=release()) == [released()]


def test_assignment_ids_are_the_mentors_so_the_mentor_tells_them_apart() -> None:
    given: list[Event] = [matched(MENTOR_A, "asg-1"), matched(MENTOR_B, "asg-1", NPQ)]
    (event,) = mentee_decider.run(given=given, command=release(MENTOR_B))
    assert isinstance(event, MenteeReleased)
    assert (event.mentor_trn, event.programme) == (MENTOR_B, NPQ)


def test_a_mentee_is_released_once() -> None:
    assert refusal([matched(), released()], release()) == (Rule.CONFLICT, None)


def test_a_mentorship_from_before_mentee_streams_releases_nothing_here() -> None:
    assert mentee_decider.run(given=[], command=release()) == []


# --- replacing --------------------------------------------------------------------------------


def replace_with(
    mentor: str = MENTOR_B, on: date = ON, programme: MentoringProgramme = ECF
) -> ReplaceMentor:
    return ReplaceMentor(
        trn=MENTEE,
        programme=programme,
        new_mentor_trn=mentor,
        assignment_id="asg-2",
        school_urn=SCHOOL,
        on=on,
        reason="mentor on leave",
    )


def test_a_mentor_is_replaced_the_same_day() -> None:
    then = mentee_decider.run(given=[matched()], command=replace_with())
    assert then == [
        released(reason="mentor on leave"),
        matched(MENTOR_B, "asg-2", starts_on=ON),
    ]
    mentee = mentee_decider.fold([matched(), *then])
    current = mentee.active_on(ECF)
    assert current is not None
    assert current.mentor_trn == MENTOR_B


def test_only_an_active_mentorship_is_replaced() -> None:
    assert refusal([], replace_with()) == (Rule.NOT_FOUND, "programme")
    assert refusal([matched(), released()], replace_with()) == (Rule.NOT_FOUND, "programme")
    assert refusal([matched()], replace_with(programme=NPQ)) == (Rule.NOT_FOUND, "programme")


def test_a_mentor_is_not_replaced_by_themselves() -> None:
    assert refusal([matched()], replace_with(MENTOR_A)) == (Rule.CONFLICT, "new_mentor_trn")


def test_a_mentee_cannot_become_their_own_mentor() -> None:
    assert refusal([matched()], replace_with(MENTEE)) == (Rule.INVALID, "new_mentor_trn")


def test_a_mentorship_is_not_replaced_before_it_starts() -> None:
    command = replace_with(on=date(2025, 8, 31))
    assert refusal([matched()], command) == (Rule.INVALID, "on")


# --- state ------------------------------------------------------------------------------------


def test_the_mentee_state_follows_the_stream() -> None:
    mentee = mentee_decider.fold(
        [matched(), matched(MENTOR_B, "asg-7", NPQ), released(), matched(MENTOR_B, "asg-8")]
    )
    assert [(m.mentor_trn, m.assignment_id, m.active) for m in mentee.mentorships] == [
        (MENTOR_A, "asg-1", False),
        (MENTOR_B, "asg-7", True),
        (MENTOR_B, "asg-8", True),
    ]
    first = mentee.mentorship(MENTOR_A, "asg-1")
    assert first is not None
    assert (first.ended_on, first.end_reason) == (ON, "moved on")
