"""Trusts in the registry (stream ``trust-<id>``): registration, funding model, trust CPD leads.

A trust's funding model decides which pot pays for an approved CPD request:

- ``centralised``: the trust's central pot pays all (central share 100%);
- ``delegated``: the school's pot pays all (central share 0%);
- ``hybrid``: the trust pays ``central_share_percent`` and the school the rest (strictly between
  0 and 100, enforced by the event contract).

A trust that has chosen no model yet is treated as delegated (central share 0): schools pay.

Trust-level CPD leads (for large trusts, beside each school's own lead) are registered teachers
who have not left the profession and work at a school currently in the trust; each has funded
time of more than 0 and at most 40 hours a week. A trust may have several; designating a lead
again changes their funded time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from cpd_events import Event
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.registry_events import CPDLeadDesignated, TrustFundingModelChosen, TrustRegistered
from cpd_events.types import FundingModel
from entitlement.domain.registry import TeacherFacts, check_funded_hours, check_lead_teacher


@dataclass(frozen=True)
class TrustCPDLead:
    trn: str
    funded_hours_per_week: Decimal
    effective_from: date


@dataclass(frozen=True)
class Trust:
    registered: bool = False
    trust_id: str = ""
    name: str = ""
    region: str | None = None
    details: TrustRegistered | None = None
    funding_model: FundingModel | None = None
    central_share_percent: Decimal = Decimal(0)
    funding_model_from: date | None = None
    cpd_leads: Mapping[str, TrustCPDLead] = field(default_factory=dict)

    @property
    def cpd_lead_trns(self) -> frozenset[str]:
        return frozenset(self.cpd_leads)


@dataclass(frozen=True)
class RegisterTrust:
    details: TrustRegistered


@dataclass(frozen=True)
class ChooseFundingModel:
    """A valid choice (the contract checks the share matches the model)."""

    choice: TrustFundingModelChosen


@dataclass(frozen=True)
class DesignateTrustCPDLead:
    trn: str
    funded_hours_per_week: Decimal
    effective_from: date
    teacher: TeacherFacts
    teacher_school_trust_id: str | None  # the trust of the teacher's school, if any


TrustCommand = RegisterTrust | ChooseFundingModel | DesignateTrustCPDLead


def trust_stream(trust_id: str) -> str:
    return f"trust-{trust_id}"


def evolve_trust(state: Trust, event: Event) -> Trust:
    match event:
        case TrustRegistered():
            return replace(
                state,
                registered=True,
                trust_id=event.trust_id,
                name=event.name,
                region=event.region,
                details=event,
            )
        case TrustFundingModelChosen():
            return replace(
                state,
                funding_model=event.model,
                central_share_percent=event.central_share_percent,
                funding_model_from=event.effective_from,
            )
        case CPDLeadDesignated(trust_id=str()):
            lead = TrustCPDLead(event.trn, event.funded_hours_per_week, event.effective_from)
            return replace(state, cpd_leads={**state.cpd_leads, event.trn: lead})
    return state


def same_registration(state: Trust, details: TrustRegistered) -> bool:
    return state.details == details


def _registered(state: Trust) -> None:
    if not state.registered:
        raise RuleBroken("no such trust: register the trust first", Rule.NOT_FOUND, "trust_id")


def decide_trust(command: TrustCommand, state: Trust) -> Sequence[Event]:
    match command:
        case RegisterTrust():
            if state.registered:
                raise RuleBroken(
                    f"trust {state.trust_id} is registered already", Rule.CONFLICT, "trust_id"
                )
            return [command.details]
        case ChooseFundingModel(choice=choice):
            _registered(state)
            if choice.trust_id != state.trust_id:
                raise ValueError("the choice names another trust")
            if (
                state.funding_model is choice.model
                and state.central_share_percent == choice.central_share_percent
            ):
                raise RuleBroken(
                    f"trust {state.trust_id} has this funding model already",
                    Rule.CONFLICT,
                    "model",
                )
            if state.funding_model_from is not None and choice.effective_from < (
                state.funding_model_from
            ):
                raise RuleBroken(
                    f"the current funding model applies from {state.funding_model_from}: a new"
                    " one takes effect on or after that day",
                    Rule.INVALID,
                    "effective_from",
                )
            return [choice]
        case DesignateTrustCPDLead():
            _registered(state)
            check_funded_hours(command.funded_hours_per_week)
            check_lead_teacher(command.trn, command.teacher)
            if command.teacher_school_trust_id != state.trust_id:
                raise RuleBroken(
                    f"teacher {command.trn} works at school {command.teacher.school_urn}, which"
                    f" is not in trust {state.trust_id}",
                    Rule.CONFLICT,
                    "trn",
                )
            current = state.cpd_leads.get(command.trn)
            if current is not None:
                if current.funded_hours_per_week == command.funded_hours_per_week:
                    raise RuleBroken(
                        f"teacher {command.trn} is a CPD lead of trust {state.trust_id} with that"
                        " funded time already",
                        Rule.CONFLICT,
                        "trn",
                    )
                if command.effective_from < current.effective_from:
                    raise RuleBroken(
                        f"teacher {command.trn} is a CPD lead from {current.effective_from}: a"
                        " change takes effect on or after that day",
                        Rule.INVALID,
                        "effective_from",
                    )
            return [
                CPDLeadDesignated(
                    trn=command.trn,
                    trust_id=state.trust_id,
                    funded_hours_per_week=command.funded_hours_per_week,
                    effective_from=command.effective_from,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


trust_decider: Decider[Trust, TrustCommand] = Decider(Trust, evolve_trust, decide_trust)
