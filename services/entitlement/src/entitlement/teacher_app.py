"""Application service of a teacher's life in entitlement: requests, hours, the development plan,
moving school and leaving the profession.

Each command loads what it needs (the teacher's stream, the catalogue replica, the new school),
passes what it read and today's date to the pure teacher decider, and appends with the version
it read (re-deciding on a conflict). Closing a request (decline, withdraw, complete) goes through
:func:`entitlement.funding_app.settle`, which moves the request's funding (``FundingReleased``,
``FundingSpent``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpd_events import Envelope, Metadata
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import execute, handle, load
from entitlement import funding_app
from entitlement.consumers import cohort_offer, course_offer
from entitlement.domain.funding import approver_role
from entitlement.domain.registry import school_decider, school_stream
from entitlement.domain.teacher import (
    AgreePlan,
    CompleteCPD,
    CorrectHours,
    DeclineCPD,
    LeaveProfession,
    LogHours,
    MoveSchool,
    RequestCPD,
    TeacherCommand,
    WithdrawCPD,
    teacher_decider,
    teacher_stream,
)


def _england() -> tzinfo:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # no time zone database here: UTC is at most an hour off
        return UTC


_ENGLAND = _england()


def today() -> date:
    """Today's date in England, where "in the future" is judged."""
    return datetime.now(_ENGLAND).date()


class TeacherLifecycle:
    def __init__(self, store: EventStore, clock: Callable[[], date] = today) -> None:
        self.store = store
        self.clock = clock

    async def request_cpd(
        self,
        trn: str,
        request_id: str,
        academic_year: str,
        course_id: str,
        reason: str,
        meta: Metadata,
        plan_goal: str | None = None,
        cohort_id: str | None = None,
    ) -> list[Envelope]:
        pool = self.store.pool
        course = await course_offer(pool, course_id)
        cohort = await cohort_offer(pool, cohort_id) if cohort_id is not None else None
        command = RequestCPD(
            request_id, academic_year, course_id, course, reason, plan_goal, cohort_id, cohort
        )
        return await self._teacher(trn, command, meta)

    async def log_hours(self, trn: str, command: LogHours, meta: Metadata) -> list[Envelope]:
        return await self._teacher(trn, replace(command, today=self.clock()), meta)

    async def correct_hours(
        self, trn: str, log_id: str, corrected_hours: Decimal, reason: str, meta: Metadata
    ) -> list[Envelope]:
        return await self._teacher(trn, CorrectHours(log_id, corrected_hours, reason), meta)

    async def decline(
        self,
        trn: str,
        request_id: str,
        declined_by: str,
        reason: str,
        decliner_trn: str | None,
        meta: Metadata,
    ) -> list[Envelope]:
        command = DeclineCPD(request_id, declined_by, reason, decliner_trn)
        teacher = await load(self.store, teacher_stream(trn), teacher_decider)
        if decliner_trn is not None and teacher.state.registered:
            # who decides the school's requests: as for approvals (the funding side knows)
            arrangement, allowed = await funding_app.funding_of(
                self.store, teacher.state.school_urn
            )
            command = replace(command, approvers=allowed, approver_role=approver_role(arrangement))
        return await funding_app.settle(self.store, trn, command, meta)

    async def withdraw(
        self, trn: str, request_id: str, reason: str, meta: Metadata
    ) -> list[Envelope]:
        return await funding_app.settle(self.store, trn, WithdrawCPD(request_id, reason), meta)

    async def complete(
        self, trn: str, request_id: str, completed_on: date, meta: Metadata
    ) -> list[Envelope]:
        command = CompleteCPD(request_id, completed_on, today=self.clock())
        return await funding_app.settle(self.store, trn, command, meta)

    async def move(
        self, trn: str, school_urn: str, moved_on: date, meta: Metadata
    ) -> list[Envelope]:
        async def plan() -> list[StreamWrite]:
            teacher = await load(self.store, teacher_stream(trn), teacher_decider)
            school = await load(self.store, school_stream(school_urn), school_decider)
            command = MoveSchool(school_urn, moved_on, school.state.registered)
            return [teacher.write(teacher_decider.decide(command, teacher.state))]

        return await execute(self.store, plan, meta)

    async def leave(self, trn: str, left_on: date, reason: str, meta: Metadata) -> list[Envelope]:
        return await self._teacher(trn, LeaveProfession(left_on, reason), meta)

    async def agree_plan(self, trn: str, command: AgreePlan, meta: Metadata) -> list[Envelope]:
        return await self._teacher(trn, command, meta)

    async def _teacher(self, trn: str, command: TeacherCommand, meta: Metadata) -> list[Envelope]:
        return await handle(self.store, teacher_stream(trn), teacher_decider, command, meta)
