"""Mentors: registration, the schools they serve, training, capacity, caseload and sessions.

Everything here is decided on one mentor's stream, ``mentor-<trn>``. The stream is the
consistency boundary, so capacity holds under concurrent assignments: two assignments for the
last slot expect the same stream version, one of them conflicts, re-decides and is refused.
"One active mentor per mentee per programme" across *different* mentors is decided on the
mentee's stream (:mod:`mentoring.domain.mentees`), appended in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import (
    MAX_SESSION_MINUTES,
    MentorAssigned,
    MentorCapacitySet,
    MentoringSessionLogged,
    MentorRegistered,
    MentorSchoolAdded,
    MentorshipEnded,
    MentorTrainingCompleted,
    session_hours,
)
from cpd_events.types import MentoringProgramme, academic_year_of
from mentoring.domain.facts import TeacherFacts, serving_teacher

#: How many mentees a mentor may hold until a capacity is set.
DEFAULT_CAPACITY = 3
#: The bounds of ``MentorCapacitySet.max_mentees``.
MAX_CAPACITY = 50


def mentor_stream(trn: str) -> str:
    return f"mentor-{trn}"


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    mentee_trn: str
    school_urn: str
    programme: MentoringProgramme
    starts_on: date
    ended_on: date | None = None
    end_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_on is None


@dataclass(frozen=True)
class Training:
    course_id: str
    completed_on: date
    hours: Decimal


@dataclass(frozen=True)
class Session:
    session_id: str
    assignment_id: str
    held_on: date
    minutes: int
    hours: Decimal
    focus: str


@dataclass(frozen=True)
class Mentor:
    trn: str
    schools: tuple[str, ...]
    max_mentees: int = DEFAULT_CAPACITY
    assignments: tuple[Assignment, ...] = ()
    trainings: tuple[Training, ...] = ()
    sessions: tuple[Session, ...] = ()

    @property
    def school_urn(self) -> str:
        """The school the mentor was registered at (the first one served)."""
        return self.schools[0]

    @property
    def active(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.active)

    def serves(self, school_urn: str) -> bool:
        return school_urn in self.schools

    def assignment(self, assignment_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.assignment_id == assignment_id), None)

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterMentor:
    trn: str
    school_urn: str
    teacher: TeacherFacts | None  # the registry replica's view of the teacher
    school_registered: bool  # whether the registry replica knows the school


@dataclass(frozen=True)
class AddMentorSchool:
    trn: str
    school_urn: str
    teacher: TeacherFacts | None
    school_registered: bool


@dataclass(frozen=True)
class CompleteMentorTraining:
    trn: str
    course_id: str
    completed_on: date
    hours: Decimal


@dataclass(frozen=True)
class SetMentorCapacity:
    trn: str
    max_mentees: int


@dataclass(frozen=True)
class AssignMentor:
    trn: str  # the mentor
    assignment_id: str
    mentee_trn: str
    school_urn: str | None  # None: the mentee's school
    programme: MentoringProgramme
    starts_on: date
    mentor_teacher: TeacherFacts | None
    mentee_teacher: TeacherFacts | None


@dataclass(frozen=True)
class EndMentorship:
    trn: str  # the mentor
    assignment_id: str
    ended_on: date
    reason: str


@dataclass(frozen=True)
class LogSession:
    trn: str  # the mentor
    session_id: str
    assignment_id: str
    held_on: date
    minutes: int
    focus: str
    mentor_teacher: TeacherFacts | None  # for the mentor's school; else their first school


MentorCommand = (
    RegisterMentor
    | AddMentorSchool
    | CompleteMentorTraining
    | SetMentorCapacity
    | AssignMentor
    | EndMentorship
    | LogSession
)


# --- decide -----------------------------------------------------------------------------------


def _registered(trn: str, state: Mentor | None) -> Mentor:
    if state is None:
        raise RuleBroken(f"mentor {trn} is not registered", Rule.NOT_FOUND)
    return state


def _register(command: RegisterMentor, state: Mentor | None) -> list[Event]:
    if state is not None:
        raise RuleBroken(f"mentor {command.trn} is registered already", Rule.CONFLICT, "trn")
    serving_teacher(command.trn, command.teacher, "trn", "teacher")
    if not command.school_registered:
        raise RuleBroken(
            f"school {command.school_urn} is not registered", Rule.NOT_FOUND, "school_urn"
        )
    return [MentorRegistered(trn=command.trn, school_urn=command.school_urn)]


def _add_school(command: AddMentorSchool, mentor: Mentor) -> list[Event]:
    serving_teacher(mentor.trn, command.teacher, "trn", "mentor")
    if not command.school_registered:
        raise RuleBroken(
            f"school {command.school_urn} is not registered", Rule.NOT_FOUND, "school_urn"
        )
    if mentor.serves(command.school_urn):
        raise RuleBroken(
            f"mentor {mentor.trn} serves school {command.school_urn} already",
            Rule.CONFLICT,
            "school_urn",
        )
    return [MentorSchoolAdded(trn=mentor.trn, school_urn=command.school_urn)]


def _complete_training(command: CompleteMentorTraining, mentor: Mentor) -> list[Event]:
    if command.hours <= 0:
        raise RuleBroken("mentor training counts for more than 0 hours", Rule.INVALID, "hours")
    if any(t.course_id == command.course_id for t in mentor.trainings):
        raise RuleBroken(
            f"mentor {mentor.trn} completed {command.course_id} already",
            Rule.CONFLICT,
            "course_id",
        )
    return [
        MentorTrainingCompleted(
            trn=mentor.trn,
            course_id=command.course_id,
            completed_on=command.completed_on,
            hours=command.hours,
        )
    ]


def _assign(command: AssignMentor, state: Mentor | None) -> list[Event]:
    if command.mentee_trn == command.trn:
        raise RuleBroken("a teacher cannot mentor themselves", Rule.INVALID, "mentee_trn")
    mentor = _registered(command.trn, state)
    serving_teacher(mentor.trn, command.mentor_teacher, None, "mentor")
    mentee = serving_teacher(command.mentee_trn, command.mentee_teacher, "mentee_trn", "mentee")
    school_urn = command.school_urn or mentee.school_urn
    if school_urn != mentee.school_urn:
        raise RuleBroken(
            f"mentee {mentee.trn} teaches at school {mentee.school_urn}, not {school_urn}",
            Rule.INVALID,
            "school_urn",
        )
    if not mentor.serves(school_urn):
        raise RuleBroken(
            f"mentor {mentor.trn} does not serve school {school_urn}", Rule.CONFLICT, "school_urn"
        )
    if mentor.assignment(command.assignment_id) is not None:
        raise RuleBroken(
            f"assignment {command.assignment_id} exists already", Rule.CONFLICT, "assignment_id"
        )
    if any(
        a.mentee_trn == command.mentee_trn and a.programme == command.programme
        for a in mentor.active
    ):
        raise RuleBroken(
            f"mentor {mentor.trn} already mentors {command.mentee_trn}"
            f" on {command.programme.value}",
            Rule.CONFLICT,
            "mentee_trn",
        )
    if len(mentor.active) >= mentor.max_mentees:
        raise RuleBroken(
            f"mentor {mentor.trn} is at capacity"
            f" ({len(mentor.active)} of {mentor.max_mentees} mentees)",
            Rule.CONFLICT,
        )
    return [
        MentorAssigned(
            assignment_id=command.assignment_id,
            trn=mentor.trn,
            mentee_trn=command.mentee_trn,
            school_urn=school_urn,
            programme=command.programme,
            starts_on=command.starts_on,
        )
    ]


def _active_assignment(mentor: Mentor, assignment_id: str, field: str | None) -> Assignment:
    assignment = mentor.assignment(assignment_id)
    if assignment is None:
        raise RuleBroken(
            f"mentor {mentor.trn} has no assignment {assignment_id}", Rule.NOT_FOUND, field
        )
    if not assignment.active:
        raise RuleBroken(f"assignment {assignment_id} has ended already", Rule.CONFLICT, field)
    return assignment


def _end(command: EndMentorship, mentor: Mentor) -> list[Event]:
    assignment = _active_assignment(mentor, command.assignment_id, None)
    if command.ended_on < assignment.starts_on:
        raise RuleBroken(
            f"a mentorship cannot end before it starts ({assignment.starts_on.isoformat()})",
            Rule.INVALID,
            "ended_on",
        )
    return [
        MentorshipEnded(
            assignment_id=assignment.assignment_id,
            trn=mentor.trn,
            mentee_trn=assignment.mentee_trn,
            ended_on=command.ended_on,
            reason=command.reason,
        )
    ]


def _log_session(command: LogSession, mentor: Mentor) -> list[Event]:
    if mentor.session(command.session_id) is not None:
        raise RuleBroken(
            f"session {command.session_id} is logged already", Rule.CONFLICT, "session_id"
        )
    assignment = _active_assignment(mentor, command.assignment_id, "assignment_id")
    if command.held_on < assignment.starts_on:
        raise RuleBroken(
            f"a session cannot be held before its mentorship starts"
            f" ({assignment.starts_on.isoformat()})",
            Rule.INVALID,
            "held_on",
        )
    if not 1 <= command.minutes <= MAX_SESSION_MINUTES:
        raise RuleBroken(
            f"a session lasts 1 to {MAX_SESSION_MINUTES} minutes", Rule.INVALID, "minutes"
        )
    if not command.focus.strip():
        raise RuleBroken("a session needs a focus", Rule.INVALID, "focus")
    teacher = command.mentor_teacher
    return [
        MentoringSessionLogged(
            session_id=command.session_id,
            assignment_id=assignment.assignment_id,
            trn=mentor.trn,
            mentee_trn=assignment.mentee_trn,
            school_urn=assignment.school_urn,
            mentor_school_urn=teacher.school_urn if teacher else mentor.school_urn,
            programme=assignment.programme,
            held_on=command.held_on,
            minutes=command.minutes,
            hours=session_hours(command.minutes),
            focus=command.focus,
            academic_year=academic_year_of(command.held_on),
        )
    ]


def decide_mentor(command: MentorCommand, state: Mentor | None) -> list[Event]:
    match command:
        case RegisterMentor():
            return _register(command, state)
        case AddMentorSchool():
            return _add_school(command, _registered(command.trn, state))
        case CompleteMentorTraining():
            return _complete_training(command, _registered(command.trn, state))
        case SetMentorCapacity():
            mentor = _registered(command.trn, state)
            if not 0 <= command.max_mentees <= MAX_CAPACITY:
                raise RuleBroken(
                    f"capacity must be between 0 and {MAX_CAPACITY} mentees",
                    Rule.INVALID,
                    "max_mentees",
                )
            return [MentorCapacitySet(trn=mentor.trn, max_mentees=command.max_mentees)]
        case AssignMentor():
            return _assign(command, state)
        case EndMentorship():
            return _end(command, _registered(command.trn, state))
        case LogSession():
            return _log_session(command, _registered(command.trn, state))


# --- evolve -----------------------------------------------------------------------------------


def evolve_mentor(state: Mentor | None, event: Event) -> Mentor | None:
    if isinstance(event, MentorRegistered):
        return Mentor(trn=event.trn, schools=(event.school_urn,))
    if state is None:
        return state
    match event:
        case MentorSchoolAdded():
            return replace(state, schools=(*state.schools, event.school_urn))
        case MentorTrainingCompleted():
            training = Training(event.course_id, event.completed_on, event.hours)
            return replace(state, trainings=(*state.trainings, training))
        case MentorCapacitySet():
            return replace(state, max_mentees=event.max_mentees)
        case MentorAssigned():
            assignment = Assignment(
                assignment_id=event.assignment_id,
                mentee_trn=event.mentee_trn,
                school_urn=event.school_urn,
                programme=event.programme,
                starts_on=event.starts_on,
            )
            return replace(state, assignments=(*state.assignments, assignment))
        case MentorshipEnded():
            return replace(
                state,
                assignments=tuple(
                    replace(a, ended_on=event.ended_on, end_reason=event.reason)
                    if a.assignment_id == event.assignment_id
                    else a
                    for a in state.assignments
                ),
            )
        case MentoringSessionLogged():
            session = Session(
                event.session_id,
                event.assignment_id,
                event.held_on,
                event.minutes,
                event.hours,
                event.focus,
            )
            return replace(state, sessions=(*state.sessions, session))
    return state


#: One mentor's stream, ``mentor-<trn>``; ``None`` until the mentor is registered.
mentor_decider: Decider[Mentor | None, MentorCommand] = Decider(
    initial=lambda: None, evolve=evolve_mentor, decide=decide_mentor
)
