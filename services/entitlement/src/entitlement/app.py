"""Application service: load streams, decide, append (retrying on conflicts)."""

from __future__ import annotations

from cpd_events import Envelope, Metadata
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import execute, handle, load
from entitlement.consumers import course_offer
from entitlement.domain.policy import PublishPolicy, policy_decider, policy_stream
from entitlement.domain.registry import RegisterSchool, school_decider, school_stream
from entitlement.domain.teacher import (
    ApproveCPD,
    GrantEntitlement,
    LogHours,
    RegisterTeacher,
    RequestCPD,
    TeacherCommand,
    teacher_decider,
    teacher_stream,
)


class Entitlement:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def register_school(self, details: SchoolRegistered, meta: Metadata) -> list[Envelope]:
        return await handle(
            self.store, school_stream(details.urn), school_decider, RegisterSchool(details), meta
        )

    async def publish_policy(self, command: PublishPolicy, meta: Metadata) -> list[Envelope]:
        return await handle(
            self.store, policy_stream(command.academic_year), policy_decider, command, meta
        )

    async def register_teacher(self, details: TeacherRegistered, meta: Metadata) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            school = await load(self.store, school_stream(details.school_urn), school_decider)
            teacher = await load(self.store, teacher_stream(details.trn), teacher_decider)
            command = RegisterTeacher(details, school_registered=school.state.registered)
            return [teacher.write(teacher_decider.decide(command, teacher.state))]

        return await execute(self.store, plan, meta)

    async def grant(self, trn: str, academic_year: str, meta: Metadata) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            teacher = await load(self.store, teacher_stream(trn), teacher_decider)
            policy = await load(self.store, policy_stream(academic_year), policy_decider)
            school = await load(self.store, school_stream(teacher.state.school_urn), school_decider)
            command = GrantEntitlement(academic_year, policy.state.current, school.state.pp50)
            return [teacher.write(teacher_decider.decide(command, teacher.state))]

        return await execute(self.store, plan, meta)

    async def request_cpd(
        self,
        trn: str,
        request_id: str,
        academic_year: str,
        course_id: str,
        reason: str,
        meta: Metadata,
    ) -> list[Envelope]:
        course = await course_offer(self.store.pool, course_id)
        command = RequestCPD(request_id, academic_year, course_id, course, reason)
        return await self._teacher(trn, command, meta)

    async def approve(self, trn: str, command: ApproveCPD, meta: Metadata) -> list[Envelope]:
        return await self._teacher(trn, command, meta)

    async def log_hours(self, trn: str, command: LogHours, meta: Metadata) -> list[Envelope]:
        return await self._teacher(trn, command, meta)

    async def _teacher(self, trn: str, command: TeacherCommand, meta: Metadata) -> list[Envelope]:
        return await handle(self.store, teacher_stream(trn), teacher_decider, command, meta)
