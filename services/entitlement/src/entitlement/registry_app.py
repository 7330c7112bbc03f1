"""Application service of the registry: trusts, schools joining and leaving them, CPD leads.

Each command loads the streams it needs, passes the facts it read to a pure decider and appends
with expected versions (re-deciding on a conflict).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cpd_events import Envelope, Metadata
from cpd_events.registry_events import TrustFundingModelChosen, TrustRegistered
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import execute, handle, load
from entitlement.domain.registry import (
    DesignateSchoolCPDLead,
    JoinTrust,
    LeaveTrust,
    TeacherFacts,
    school_decider,
    school_stream,
)
from entitlement.domain.teacher import Teacher, teacher_decider, teacher_stream
from entitlement.domain.trust import (
    ChooseFundingModel,
    DesignateTrustCPDLead,
    RegisterTrust,
    trust_decider,
    trust_stream,
)


def teacher_facts(state: Teacher) -> TeacherFacts:
    """The registry's view of a teacher's state (``teacher-<trn>``, read only)."""
    return TeacherFacts(state.registered, state.school_urn, state.left)


class Registry:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def register_trust(self, details: TrustRegistered, meta: Metadata) -> list[Envelope]:
        return await handle(
            self.store, trust_stream(details.trust_id), trust_decider, RegisterTrust(details), meta
        )

    async def choose_funding_model(
        self, choice: TrustFundingModelChosen, meta: Metadata
    ) -> list[Envelope]:
        command = ChooseFundingModel(choice)
        return await handle(self.store, trust_stream(choice.trust_id), trust_decider, command, meta)

    async def join_trust(
        self, urn: str, trust_id: str, effective_from: date, meta: Metadata
    ) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            school = await load(self.store, school_stream(urn), school_decider)
            trust = await load(self.store, trust_stream(trust_id), trust_decider)
            command = JoinTrust(trust_id, effective_from, trust.state.registered)
            return [school.write(school_decider.decide(command, school.state))]

        return await execute(self.store, plan, meta)

    async def leave_trust(self, urn: str, command: LeaveTrust, meta: Metadata) -> list[Envelope]:
        return await handle(self.store, school_stream(urn), school_decider, command, meta)

    async def designate_school_lead(
        self,
        urn: str,
        trn: str,
        funded_hours_per_week: Decimal,
        effective_from: date,
        meta: Metadata,
    ) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            school = await load(self.store, school_stream(urn), school_decider)
            teacher = await load(self.store, teacher_stream(trn), teacher_decider)
            command = DesignateSchoolCPDLead(
                trn, funded_hours_per_week, effective_from, teacher_facts(teacher.state)
            )
            return [school.write(school_decider.decide(command, school.state))]

        return await execute(self.store, plan, meta)

    async def designate_trust_lead(
        self,
        trust_id: str,
        trn: str,
        funded_hours_per_week: Decimal,
        effective_from: date,
        meta: Metadata,
    ) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            trust = await load(self.store, trust_stream(trust_id), trust_decider)
            teacher = await load(self.store, teacher_stream(trn), teacher_decider)
            school_trust = None
            if teacher.state.registered:
                school = await load(
                    self.store, school_stream(teacher.state.school_urn), school_decider
                )
                school_trust = school.state.trust_id
            command = DesignateTrustCPDLead(
                trn,
                funded_hours_per_week,
                effective_from,
                teacher_facts(teacher.state),
                school_trust,
            )
            return [trust.write(trust_decider.decide(command, trust.state))]

        return await execute(self.store, plan, meta)
