"""Budgets: money allocated for an academic year to a trust, a school or the national premium pot.

One stream per budget, ``budget-<budget_id>`` with ``budget_id`` = ``<year>-<holder>-<id>``, e.g.
``budget-2025-26-school-100000``, ``budget-2025-26-trust-2044``,
``budget-2025-26-national_premium-england``.

Rules:

- allocations are positive and add up (a later allocation tops the budget up); the holder (trust
  or school) must be registered;
- committed + spent never exceed allocated: a commitment that would is refused, naming the budget,
  what it has left and what the request needs;
- a request commits once per budget; completing it spends exactly what it committed; withdrawing
  or declining it releases the commitment (both only while committed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from cpd_events import Event
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.entitlement_events import (
    BudgetAllocated,
    BudgetHolder,
    FundingCommitted,
    FundingReleased,
    FundingSpent,
)

#: The holder id of the national premium pot (one per year).
NATIONAL = "england"


def budget_id(academic_year: str, holder: BudgetHolder, holder_id: str) -> str:
    """``2025/26``, ``school``, ``100000`` -> ``2025-26-school-100000``."""
    return f"{academic_year.replace('/', '-')}-{holder}-{holder_id}"


def school_budget_id(academic_year: str, urn: str) -> str:
    return budget_id(academic_year, "school", urn)


def trust_budget_id(academic_year: str, trust_id: str) -> str:
    return budget_id(academic_year, "trust", trust_id)


def premium_budget_id(academic_year: str) -> str:
    return budget_id(academic_year, "national_premium", NATIONAL)


def budget_stream(budget_id: str) -> str:
    return f"budget-{budget_id}"


def pounds(pence: int) -> str:
    """``123456`` -> ``£1,234.56`` (for messages people read)."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{part:02d}"


@dataclass(frozen=True)
class Budget:
    budget_id: str = ""
    holder: str = ""
    trust_id: str | None = None
    school_urn: str | None = None
    academic_year: str = ""
    allocated: int = 0
    committed: int = 0
    spent: int = 0
    #: request id -> its commitment not yet spent or released
    commitments: Mapping[str, FundingCommitted] = field(default_factory=dict)
    #: request id -> what it spent
    spent_by_request: Mapping[str, int] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.budget_id)

    @property
    def available(self) -> int:
        return self.allocated - self.committed - self.spent


@dataclass(frozen=True)
class AllocateBudget:
    academic_year: str
    holder: BudgetHolder
    holder_id: str
    amount_pence: int
    #: the trust or school is registered (always true for the national premium pot)
    holder_registered: bool


@dataclass(frozen=True)
class CommitFunding:
    budget_id: str
    request_id: str
    trn: str
    school_urn: str
    trust_id: str | None
    academic_year: str
    amount_pence: int


@dataclass(frozen=True)
class SpendFunding:
    request_id: str


@dataclass(frozen=True)
class ReleaseFunding:
    request_id: str
    reason: str = ""


BudgetCommand = AllocateBudget | CommitFunding | SpendFunding | ReleaseFunding


def allocation_target(
    holder: BudgetHolder, trust_id: str | None, school_urn: str | None
) -> tuple[BudgetHolder, str]:
    """Check a budget names exactly its holder; return ``(holder, holder_id)``."""
    match holder:
        case "trust":
            if trust_id is None or school_urn is not None:
                raise RuleBroken(
                    "a trust budget names its trust_id and no school_urn", Rule.INVALID, "trust_id"
                )
            return holder, trust_id
        case "school":
            if school_urn is None or trust_id is not None:
                raise RuleBroken(
                    "a school budget names its school_urn and no trust_id",
                    Rule.INVALID,
                    "school_urn",
                )
            return holder, school_urn
        case "national_premium":
            if trust_id is not None or school_urn is not None:
                raise RuleBroken(
                    "the national premium pot names neither a trust nor a school",
                    Rule.INVALID,
                    "holder",
                )
            return holder, NATIONAL
    raise RuleBroken(f"unknown budget holder {holder!r}", Rule.INVALID, "holder")


def evolve_budget(state: Budget, event: Event) -> Budget:
    match event:
        case BudgetAllocated():
            return replace(
                state,
                budget_id=event.budget_id,
                holder=event.holder,
                trust_id=event.trust_id,
                school_urn=event.school_urn,
                academic_year=event.academic_year,
                allocated=state.allocated + event.amount_pence,
            )
        case FundingCommitted():
            return replace(
                state,
                committed=state.committed + event.amount_pence,
                commitments={**state.commitments, event.request_id: event},
            )
        case FundingSpent():
            commitments = dict(state.commitments)
            commitments.pop(event.request_id, None)
            return replace(
                state,
                committed=state.committed - event.amount_pence,
                spent=state.spent + event.amount_pence,
                commitments=commitments,
                spent_by_request={
                    **state.spent_by_request,
                    event.request_id: state.spent_by_request.get(event.request_id, 0)
                    + event.amount_pence,
                },
            )
        case FundingReleased():
            commitments = dict(state.commitments)
            commitments.pop(event.request_id, None)
            return replace(
                state, committed=state.committed - event.amount_pence, commitments=commitments
            )
    return state


def _commitment(state: Budget, request_id: str) -> FundingCommitted:
    commitment = state.commitments.get(request_id)
    if commitment is None:
        raise RuleBroken(
            f"budget {state.budget_id or '?'} holds no commitment for request {request_id}",
            Rule.CONFLICT,
            "request_id",
        )
    return commitment


def decide_budget(command: BudgetCommand, state: Budget) -> Sequence[Event]:
    match command:
        case AllocateBudget():
            if command.amount_pence <= 0:
                raise RuleBroken(
                    "an allocation must be more than £0.00", Rule.INVALID, "amount_pence"
                )
            if not command.holder_registered:
                field_name = "trust_id" if command.holder == "trust" else "school_urn"
                raise RuleBroken(
                    f"no {command.holder} {command.holder_id}: register it first",
                    Rule.NOT_FOUND,
                    field_name,
                )
            is_school = command.holder == "school"
            return [
                BudgetAllocated(
                    budget_id=budget_id(command.academic_year, command.holder, command.holder_id),
                    holder=command.holder,
                    trust_id=command.holder_id if command.holder == "trust" else None,
                    school_urn=command.holder_id if is_school else None,
                    academic_year=command.academic_year,
                    amount_pence=command.amount_pence,
                )
            ]
        case CommitFunding():
            if command.amount_pence <= 0:
                raise RuleBroken("a commitment must be more than £0.00", Rule.INVALID, "amount")
            if not state.exists:
                raise RuleBroken(
                    f"budget {command.budget_id} is not allocated: it has {pounds(0)} left,"
                    f" request {command.request_id} needs {pounds(command.amount_pence)}",
                    Rule.CONFLICT,
                    "request_id",
                )
            if command.request_id in state.commitments:
                raise RuleBroken(
                    f"budget {state.budget_id} holds a commitment for request"
                    f" {command.request_id} already",
                    Rule.CONFLICT,
                    "request_id",
                )
            if command.amount_pence > state.available:
                raise RuleBroken(
                    f"budget {state.budget_id} has {pounds(state.available)} left, request"
                    f" {command.request_id} needs {pounds(command.amount_pence)}",
                    Rule.CONFLICT,
                    "request_id",
                )
            return [
                FundingCommitted(
                    budget_id=command.budget_id,
                    request_id=command.request_id,
                    trn=command.trn,
                    school_urn=command.school_urn,
                    trust_id=command.trust_id,
                    academic_year=command.academic_year,
                    amount_pence=command.amount_pence,
                )
            ]
        case SpendFunding():
            c = _commitment(state, command.request_id)
            return [
                FundingSpent(
                    budget_id=c.budget_id,
                    request_id=c.request_id,
                    trn=c.trn,
                    school_urn=c.school_urn,
                    trust_id=c.trust_id,
                    academic_year=c.academic_year,
                    amount_pence=c.amount_pence,
                )
            ]
        case ReleaseFunding():
            c = _commitment(state, command.request_id)
            return [
                FundingReleased(
                    budget_id=c.budget_id,
                    request_id=c.request_id,
                    trn=c.trn,
                    school_urn=c.school_urn,
                    trust_id=c.trust_id,
                    academic_year=c.academic_year,
                    amount_pence=c.amount_pence,
                    reason=command.reason,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


budget_decider: Decider[Budget, BudgetCommand] = Decider(Budget, evolve_budget, decide_budget)


Settlement = Literal["spend", "release"]


def settle_funding(
    budgets: Mapping[str, Budget], request_id: str, how: Settlement, reason: str = ""
) -> dict[str, list[Event]]:
    """The funding events a completed (``spend``) or withdrawn/declined (``release``) request
    moves, per budget id: each budget holding a commitment for it spends or releases all of it.
    Budgets holding none are left out (a request approved before budgets existed, or free)."""
    moved: dict[str, list[Event]] = {}
    for key, budget in budgets.items():
        if request_id not in budget.commitments:
            continue
        command: BudgetCommand = (
            SpendFunding(request_id) if how == "spend" else ReleaseFunding(request_id, reason)
        )
        moved[key] = list(decide_budget(command, budget))
    return moved
