"""Application service of money: budgets, approvals that commit funding, settling it.

Every command loads what it needs, decides with the pure deciders and appends all its streams in
one transaction (``execute``), each at the version it was read at; a version conflict re-reads
and re-decides. So of two approvals racing for the last pounds of a budget, one appends; the other
re-decides against the budget as the winner left it and is refused (409 naming the budget).

The school and trust an approval reads (which pot, who may approve) are not written to: a funding
model chosen while an approval is being decided applies from the next approval.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cpd_events import Envelope, Metadata
from cpd_events.entitlement_events import (
    BudgetHolder,
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDWithdrawn,
)
from cpd_eventstore import EventStore, StreamWrite
from cpd_eventstore.application import execute, load
from entitlement.domain.budget import (
    AllocateBudget,
    Budget,
    CommitFunding,
    Settlement,
    allocation_target,
    budget_decider,
    budget_id,
    budget_stream,
    settle_funding,
)
from entitlement.domain.funding import Arrangement, approvers, arrangement_of
from entitlement.domain.registry import school_decider, school_stream
from entitlement.domain.teacher import (
    ApproveCPD,
    TeacherCommand,
    teacher_decider,
    teacher_stream,
)
from entitlement.domain.trust import trust_decider, trust_stream


async def allocate_budget(
    store: EventStore,
    academic_year: str,
    holder: BudgetHolder,
    trust_id: str | None,
    school_urn: str | None,
    amount_pence: int,
    meta: Metadata,
) -> tuple[str, list[Envelope]]:
    """Allocate (or top up) a year's budget; returns the budget id and the appended events."""
    holder, holder_id = allocation_target(holder, trust_id, school_urn)
    key = budget_id(academic_year, holder, holder_id)

    async def plan() -> list[StreamWrite]:
        budget = await load(store, budget_stream(key), budget_decider)
        if holder == "trust":
            known = (await load(store, trust_stream(holder_id), trust_decider)).state.registered
        elif holder == "school":
            known = (await load(store, school_stream(holder_id), school_decider)).state.registered
        else:
            known = True
        command = AllocateBudget(academic_year, holder, holder_id, amount_pence, known)
        return [budget.write(budget_decider.decide(command, budget.state))]

    return key, await execute(store, plan, meta)


async def get_budget(store: EventStore, key: str) -> tuple[Budget, int]:
    loaded = await load(store, budget_stream(key), budget_decider)
    return loaded.state, loaded.version


async def funding_of(store: EventStore, school_urn: str) -> tuple[Arrangement, frozenset[str]]:
    """Which pots pay for the school's requests, and who may approve them (read only)."""
    school = (await load(store, school_stream(school_urn), school_decider)).state
    trust = None
    if school.trust_id is not None:
        trust = (await load(store, trust_stream(school.trust_id), trust_decider)).state
    arrangement = arrangement_of(
        school_urn,
        school.trust_id,
        trust.funding_model if trust else None,
        trust.central_share_percent if trust else Decimal(0),
    )
    allowed = approvers(
        arrangement, school.cpd_lead_trn, trust.cpd_lead_trns if trust else frozenset()
    )
    return arrangement, allowed


async def approve(
    store: EventStore, trn: str, command: ApproveCPD, meta: Metadata
) -> list[Envelope]:
    """Approve a request and commit its cost on the budget(s) that pay, all or nothing."""

    async def plan() -> list[StreamWrite]:
        teacher = await load(store, teacher_stream(trn), teacher_decider)
        decide = command
        if teacher.state.registered:
            arrangement, allowed = await funding_of(store, teacher.state.school_urn)
            decide = replace(command, arrangement=arrangement, approvers=allowed)
        decided = teacher_decider.decide(decide, teacher.state)
        writes = [teacher.write(decided)]
        for event in decided:
            if not isinstance(event, CPDApproved):
                continue
            year = teacher.state.requests[event.request_id].academic_year
            trust_id = decide.arrangement.trust_id if decide.arrangement else None
            for share in event.funding:
                budget = await load(store, budget_stream(share.budget_id), budget_decider)
                commit = CommitFunding(
                    share.budget_id,
                    event.request_id,
                    event.trn,
                    event.school_urn,
                    trust_id,
                    year,
                    share.amount_pence,
                )
                writes.append(budget.write(budget_decider.decide(commit, budget.state)))
        return writes

    return await execute(store, plan, meta)


async def settle(
    store: EventStore, trn: str, command: TeacherCommand, meta: Metadata
) -> list[Envelope]:
    """A lifecycle command on a request, with the funding it moves, in one transaction.

    The teacher decider decides ``command``; if that completes a request (``CPDCompleted``), its
    commitments are spent (``FundingSpent``); if it withdraws or declines one with commitments
    (``CPDWithdrawn``, ``CPDDeclined``), they are released (``FundingReleased``).
    """

    async def plan() -> list[StreamWrite]:
        teacher = await load(store, teacher_stream(trn), teacher_decider)
        decided = teacher_decider.decide(command, teacher.state)
        writes = [teacher.write(decided)]
        for event in decided:
            how: Settlement
            reason = ""
            match event:
                case CPDCompleted():
                    how = "spend"
                case CPDWithdrawn() | CPDDeclined():
                    how, reason = "release", event.reason
                case _:
                    continue
            request = teacher.state.requests.get(event.request_id)
            for share in request.funding if request else ():
                budget = await load(store, budget_stream(share.budget_id), budget_decider)
                moved = settle_funding(
                    {share.budget_id: budget.state}, event.request_id, how, reason
                )
                writes.append(budget.write(moved.get(share.budget_id, [])))
        return writes

    return await execute(store, plan, meta)
