"""The mentoring application service: read the replica, load streams, decide, append.

Facts from other services (teachers, schools) come from the local registry replica
(:mod:`mentoring.consumers`) and are handed to the pure deciders inside the commands.
Commands touching several streams (assigning, ending, replacing a mentor) append to all of them
in one transaction with the versions they loaded; a conflict re-runs the whole decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

from cpd_events import Envelope, Event, Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_events.mentoring_events import MentorAssigned, MentorshipEnded
from cpd_events.types import MentoringProgramme
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import Loaded, execute, handle, load
from mentoring.consumers import school_name, teacher_facts
from mentoring.domain import (
    AddMentorSchool,
    AssignMentor,
    CompleteMentorTraining,
    DesignateLeadMentor,
    EndMentorship,
    LeadMentor,
    LogSession,
    MatchMentee,
    Mentee,
    Mentor,
    MentorCommand,
    RegisterMentor,
    ReleaseMentee,
    ReplaceMentor,
    SetMentorCapacity,
    lead_mentor_decider,
    lead_mentor_stream,
    mentee_decider,
    mentee_stream,
    mentor_decider,
    mentor_stream,
)

E = TypeVar("E", bound=Event)


class Mentoring:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.pool = store.pool

    # --- mentors ------------------------------------------------------------------------------

    async def register_mentor(self, trn: str, school_urn: str, meta: Metadata) -> list[Envelope]:
        teacher = await teacher_facts(self.pool, trn)
        known = await school_name(self.pool, school_urn) is not None
        return await self._mentor(RegisterMentor(trn, school_urn, teacher, known), meta)

    async def add_school(self, trn: str, school_urn: str, meta: Metadata) -> list[Envelope]:
        teacher = await teacher_facts(self.pool, trn)
        known = await school_name(self.pool, school_urn) is not None
        return await self._mentor(AddMentorSchool(trn, school_urn, teacher, known), meta)

    async def complete_training(
        self, trn: str, course_id: str, completed_on: date, hours: Decimal, meta: Metadata
    ) -> list[Envelope]:
        command = CompleteMentorTraining(trn, course_id, completed_on, hours)
        return await self._mentor(command, meta)

    async def set_capacity(self, trn: str, max_mentees: int, meta: Metadata) -> list[Envelope]:
        return await self._mentor(SetMentorCapacity(trn, max_mentees), meta)

    async def log_session(
        self,
        trn: str,
        session_id: str,
        assignment_id: str,
        held_on: date,
        minutes: int,
        focus: str,
        meta: Metadata,
    ) -> list[Envelope]:
        teacher = await teacher_facts(self.pool, trn)
        command = LogSession(trn, session_id, assignment_id, held_on, minutes, focus, teacher)
        return await self._mentor(command, meta)

    async def _mentor(self, command: MentorCommand, meta: Metadata) -> list[Envelope]:
        return await handle(self.store, mentor_stream(command.trn), mentor_decider, command, meta)

    # --- mentorships: mentor and mentee streams in one transaction ----------------------------

    async def assign(
        self,
        trn: str,
        assignment_id: str,
        mentee_trn: str,
        school_urn: str | None,
        programme: MentoringProgramme,
        starts_on: date,
        meta: Metadata,
    ) -> list[Envelope]:
        mentor_teacher = await teacher_facts(self.pool, trn)
        mentee_teacher = await teacher_facts(self.pool, mentee_trn)
        command = AssignMentor(
            trn=trn,
            assignment_id=assignment_id,
            mentee_trn=mentee_trn,
            school_urn=school_urn,
            programme=programme,
            starts_on=starts_on,
            mentor_teacher=mentor_teacher,
            mentee_teacher=mentee_teacher,
        )

        async def plan() -> list[StreamWrite]:
            mentor = await load(self.store, mentor_stream(trn), mentor_decider)
            assigned = mentor_decider.decide(command, mentor.state)
            mentee = await load(self.store, mentee_stream(mentee_trn), mentee_decider)
            matched = mentee_decider.decide(_match(assigned), mentee.state)
            return [mentor.write(assigned), mentee.write(matched)]

        return await execute(self.store, plan, meta)

    async def end(
        self, trn: str, assignment_id: str, ended_on: date, reason: str, meta: Metadata
    ) -> list[Envelope]:
        command = EndMentorship(trn, assignment_id, ended_on, reason)

        async def plan() -> list[StreamWrite]:
            mentor = await load(self.store, mentor_stream(trn), mentor_decider)
            ended = mentor_decider.decide(command, mentor.state)
            mentee_trn = _only(ended, MentorshipEnded).mentee_trn
            mentee = await load(self.store, mentee_stream(mentee_trn), mentee_decider)
            release = ReleaseMentee(mentee_trn, trn, assignment_id, ended_on, reason)
            return [mentor.write(ended), mentee.write(mentee_decider.decide(release, mentee.state))]

        return await execute(self.store, plan, meta)

    async def replace(
        self,
        mentee_trn: str,
        programme: MentoringProgramme,
        new_mentor_trn: str,
        assignment_id: str,
        on: date,
        reason: str,
        meta: Metadata,
    ) -> list[Envelope]:
        """End the mentee's mentorship on ``programme`` and assign ``new_mentor_trn`` from
        ``on``: three streams (old mentor, new mentor, mentee), one transaction."""
        mentee_teacher = await teacher_facts(self.pool, mentee_trn)
        mentor_teacher = await teacher_facts(self.pool, new_mentor_trn)

        async def plan() -> list[StreamWrite]:
            mentee = await load(self.store, mentee_stream(mentee_trn), mentee_decider)
            current = mentee.state.active_on(programme)
            school_urn = (
                mentee_teacher.school_urn
                if mentee_teacher
                else current.school_urn
                if current
                else ""
            )
            mentee_events = mentee_decider.decide(
                ReplaceMentor(
                    trn=mentee_trn,
                    programme=programme,
                    new_mentor_trn=new_mentor_trn,
                    assignment_id=assignment_id,
                    school_urn=school_urn,
                    on=on,
                    reason=reason,
                ),
                mentee.state,
            )
            assert current is not None  # else the mentee's decider refused
            old = await load(self.store, mentor_stream(current.mentor_trn), mentor_decider)
            new = await load(self.store, mentor_stream(new_mentor_trn), mentor_decider)
            ended = mentor_decider.decide(
                EndMentorship(current.mentor_trn, current.assignment_id, on, reason), old.state
            )
            assigned = mentor_decider.decide(
                AssignMentor(
                    trn=new_mentor_trn,
                    assignment_id=assignment_id,
                    mentee_trn=mentee_trn,
                    school_urn=school_urn,
                    programme=programme,
                    starts_on=on,
                    mentor_teacher=mentor_teacher,
                    mentee_teacher=mentee_teacher,
                ),
                new.state,
            )
            return [old.write(ended), new.write(assigned), mentee.write(mentee_events)]

        return await execute(self.store, plan, meta)

    # --- lead mentors -------------------------------------------------------------------------

    async def designate_lead(self, school_urn: str, trn: str, meta: Metadata) -> list[Envelope]:
        teacher = await teacher_facts(self.pool, trn)

        async def plan() -> list[StreamWrite]:
            mentor = await load(self.store, mentor_stream(trn), mentor_decider)
            lead = await load(self.store, lead_mentor_stream(school_urn), lead_mentor_decider)
            command = DesignateLeadMentor(school_urn, trn, mentor.state, teacher)
            return [lead.write(lead_mentor_decider.decide(command, lead.state))]

        return await execute(self.store, plan, meta)

    # --- queries ------------------------------------------------------------------------------

    async def mentor(self, trn: str) -> Loaded[Mentor]:
        loaded = await load(self.store, mentor_stream(trn), mentor_decider)
        if loaded.state is None:
            raise RuleBroken(f"mentor {trn} is not registered", Rule.NOT_FOUND)
        return Loaded(loaded.stream_id, loaded.state, loaded.version)

    async def mentee(self, trn: str) -> Loaded[Mentee]:
        return await load(self.store, mentee_stream(trn), mentee_decider)

    async def lead_mentor(self, school_urn: str) -> Loaded[LeadMentor]:
        return await load(self.store, lead_mentor_stream(school_urn), lead_mentor_decider)


def _only(events: Sequence[Event], kind: type[E]) -> E:
    """The one event a decision returned, of the kind it must be."""
    (event,) = events
    if not isinstance(event, kind):
        raise TypeError(f"expected {kind.event_type}, decided {event.event_type}")
    return event


def _match(assigned: Sequence[Event]) -> MatchMentee:
    """The mentee's side of a decided assignment."""
    event = _only(assigned, MentorAssigned)
    return MatchMentee(
        trn=event.mentee_trn,
        assignment_id=event.assignment_id,
        mentor_trn=event.trn,
        programme=event.programme,
        school_urn=event.school_urn,
        starts_on=event.starts_on,
    )
