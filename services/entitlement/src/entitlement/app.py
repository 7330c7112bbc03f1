"""Application service: load streams, decide, append (retrying on conflicts)."""

from __future__ import annotations

from cpd_events import Envelope, Metadata
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import execute, handle, load
from entitlement import funding_app, grants
from entitlement.domain.policy import PublishPolicy, policy_decider, policy_stream
from entitlement.domain.registry import RegisterSchool, school_decider, school_stream
from entitlement.domain.teacher import (
    ApproveCPD,
    RegisterTeacher,
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
            decided = teacher_decider.decide(command, teacher.state)
            # funding helper: the year's grant follows a registration when its policy is out
            pp50 = school.state.pp50
            return [await grants.registration_write(self.store, teacher, decided, pp50)]

        return await execute(self.store, plan, meta)

    async def grant(self, trn: str, academic_year: str, meta: Metadata) -> list[Envelope]:
        return await grants.grant_teacher(self.store, trn, academic_year, meta)  # funding helper

    async def approve(self, trn: str, command: ApproveCPD, meta: Metadata) -> list[Envelope]:
        return await funding_app.approve(self.store, trn, command, meta)  # commits funding

    # requests, hours, plans, moves and leaving: entitlement.teacher_app.TeacherLifecycle
