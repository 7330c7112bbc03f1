"""Mentees: the mentee's side of their mentorships (stream ``mentee-<trn>``).

"One active mentor per mentee per programme" is a rule across mentors, so no mentor's stream
can decide it alone. Every assignment therefore also appends ``MenteeMatched`` to the mentee's
stream, expecting the version it read, in the same transaction as the mentor's
``MentorAssigned``: two mentors assigned to the same mentee at once conflict on the mentee's
stream, and the re-decided loser is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import MenteeMatched, MenteeReleased
from cpd_events.types import MentoringProgramme


def mentee_stream(trn: str) -> str:
    return f"mentee-{trn}"


@dataclass(frozen=True)
class Mentorship:
    assignment_id: str
    mentor_trn: str
    programme: MentoringProgramme
    school_urn: str
    starts_on: date
    ended_on: date | None = None
    end_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_on is None


@dataclass(frozen=True)
class Mentee:
    mentorships: tuple[Mentorship, ...] = ()

    def mentorship(self, mentor_trn: str, assignment_id: str) -> Mentorship | None:
        """Assignment ids are chosen per mentor: a mentorship is known by both."""
        return next(
            (
                m
                for m in self.mentorships
                if m.mentor_trn == mentor_trn and m.assignment_id == assignment_id
            ),
            None,
        )

    def active_on(self, programme: MentoringProgramme) -> Mentorship | None:
        return next((m for m in self.mentorships if m.active and m.programme == programme), None)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchMentee:
    """The mentee's side of an assignment."""

    trn: str  # the mentee
    assignment_id: str
    mentor_trn: str
    programme: MentoringProgramme
    school_urn: str
    starts_on: date


@dataclass(frozen=True)
class ReleaseMentee:
    """The mentee's side of a mentorship ending."""

    trn: str  # the mentee
    mentor_trn: str
    assignment_id: str
    ended_on: date
    reason: str


@dataclass(frozen=True)
class ReplaceMentor:
    """End the mentee's active mentorship on a programme and match a new mentor, same day."""

    trn: str  # the mentee
    programme: MentoringProgramme
    new_mentor_trn: str
    assignment_id: str
    school_urn: str
    on: date
    reason: str


MenteeCommand = MatchMentee | ReleaseMentee | ReplaceMentor


# --- decide -----------------------------------------------------------------------------------


def _match(command: MatchMentee, mentee: Mentee) -> MenteeMatched:
    current = mentee.active_on(command.programme)
    if current is not None:
        raise RuleBroken(
            f"mentee {command.trn} already has an active mentor ({current.mentor_trn})"
            f" on {command.programme.value}",
            Rule.CONFLICT,
            "mentee_trn",
        )
    return MenteeMatched(
        assignment_id=command.assignment_id,
        trn=command.trn,
        mentor_trn=command.mentor_trn,
        programme=command.programme,
        school_urn=command.school_urn,
        starts_on=command.starts_on,
    )


def _release(command: ReleaseMentee, mentorship: Mentorship) -> MenteeReleased:
    return MenteeReleased(
        assignment_id=mentorship.assignment_id,
        trn=command.trn,
        mentor_trn=mentorship.mentor_trn,
        programme=mentorship.programme,
        ended_on=command.ended_on,
        reason=command.reason,
    )


def _replace(command: ReplaceMentor, mentee: Mentee) -> list[Event]:
    current = mentee.active_on(command.programme)
    if current is None:
        raise RuleBroken(
            f"mentee {command.trn} has no active mentor on {command.programme.value}",
            Rule.NOT_FOUND,
            "programme",
        )
    if command.new_mentor_trn == command.trn:
        raise RuleBroken("a teacher cannot mentor themselves", Rule.INVALID, "new_mentor_trn")
    if command.new_mentor_trn == current.mentor_trn:
        raise RuleBroken(
            f"{command.new_mentor_trn} is the current mentor already",
            Rule.CONFLICT,
            "new_mentor_trn",
        )
    if command.on < current.starts_on:
        raise RuleBroken(
            f"the current mentorship starts on {current.starts_on.isoformat()}: it cannot be"
            " replaced earlier",
            Rule.INVALID,
            "on",
        )
    released = _release(
        ReleaseMentee(
            command.trn, current.mentor_trn, current.assignment_id, command.on, command.reason
        ),
        current,
    )
    after = evolve_mentee(mentee, released)
    matched = _match(
        MatchMentee(
            trn=command.trn,
            assignment_id=command.assignment_id,
            mentor_trn=command.new_mentor_trn,
            programme=command.programme,
            school_urn=command.school_urn,
            starts_on=command.on,
        ),
        after,
    )
    return [released, matched]


def decide_mentee(command: MenteeCommand, mentee: Mentee) -> list[Event]:
    match command:
        case MatchMentee():
            return [_match(command, mentee)]
        case ReleaseMentee():
            mentorship = mentee.mentorship(command.mentor_trn, command.assignment_id)
            if mentorship is None:
                # assigned before mentee streams existed: the mentor's stream is the record
                return []
            if not mentorship.active:
                raise RuleBroken(
                    f"assignment {command.assignment_id} has ended already", Rule.CONFLICT
                )
            return [_release(command, mentorship)]
        case ReplaceMentor():
            return _replace(command, mentee)


# --- evolve -----------------------------------------------------------------------------------


def evolve_mentee(state: Mentee, event: Event) -> Mentee:
    match event:
        case MenteeMatched():
            mentorship = Mentorship(
                assignment_id=event.assignment_id,
                mentor_trn=event.mentor_trn,
                programme=event.programme,
                school_urn=event.school_urn,
                starts_on=event.starts_on,
            )
            return replace(state, mentorships=(*state.mentorships, mentorship))
        case MenteeReleased():
            return replace(
                state,
                mentorships=tuple(
                    replace(m, ended_on=event.ended_on, end_reason=event.reason)
                    if (m.mentor_trn, m.assignment_id) == (event.mentor_trn, event.assignment_id)
                    else m
                    for m in state.mentorships
                ),
            )
    return state


#: One mentee's stream, ``mentee-<trn>``: empty until their first mentorship.
mentee_decider: Decider[Mentee, MenteeCommand] = Decider(
    initial=Mentee, evolve=evolve_mentee, decide=decide_mentee
)
