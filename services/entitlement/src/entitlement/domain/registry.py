"""Schools in the registry (stream ``school-<urn>``): registration, trust membership, CPD lead.

Rules:

- a school registers once (a repeat is refused; the bulk import treats an identical repeat as
  unchanged, see :func:`same_registration`);
- a school is in at most one trust at a time: joining while in another trust is refused naming
  that trust; the trust must be registered; a school rejoins only on or after the day it left;
- leaving needs a trust to leave (and, when named, the trust the school is in), on or after the
  day it joined;
- the school-level CPD lead is a registered teacher of that school who has not left the
  profession, funded for more than 0 and at most 40 hours a week; a new designation replaces
  the current lead from its effective date (not before the current lead's).

Facts from other streams (is the trust registered, where does the teacher work) are read by the
application and passed in with the command, so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from cpd_events import Event
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolLeftTrust,
    SchoolRegistered,
)

#: Funded CPD-lead time: more than nothing, at most a full working week.
MAX_FUNDED_HOURS_PER_WEEK = Decimal(40)


@dataclass(frozen=True)
class School:
    registered: bool = False
    urn: str = ""
    name: str = ""
    pp50: bool = False
    local_authority: str = ""
    phase: str = ""
    region: str | None = None
    pupils_on_roll: int | None = None
    fsm_percent: Decimal | None = None
    details: SchoolRegistered | None = None
    trust_id: str | None = None
    joined_trust_on: date | None = None
    left_trust_on: date | None = None
    cpd_lead_trn: str | None = None
    cpd_lead_hours_per_week: Decimal | None = None
    cpd_lead_from: date | None = None


@dataclass(frozen=True)
class TeacherFacts:
    """What the registry needs to know of a teacher (read from the ``teacher-<trn>`` stream)."""

    registered: bool
    school_urn: str = ""
    left: bool = False


@dataclass(frozen=True)
class RegisterSchool:
    details: SchoolRegistered


@dataclass(frozen=True)
class JoinTrust:
    trust_id: str
    effective_from: date
    trust_registered: bool


@dataclass(frozen=True)
class LeaveTrust:
    effective_from: date
    reason: str = ""
    trust_id: str | None = None  # when given, the trust the school must be in


@dataclass(frozen=True)
class DesignateSchoolCPDLead:
    trn: str
    funded_hours_per_week: Decimal
    effective_from: date
    teacher: TeacherFacts


SchoolCommand = RegisterSchool | JoinTrust | LeaveTrust | DesignateSchoolCPDLead


def school_stream(urn: str) -> str:
    return f"school-{urn}"


def evolve_school(state: School, event: Event) -> School:
    match event:
        case SchoolRegistered():
            return replace(
                state,
                registered=True,
                urn=event.urn,
                name=event.name,
                pp50=event.pp50,
                local_authority=event.local_authority,
                phase=event.phase,
                region=event.region,
                pupils_on_roll=event.pupils_on_roll,
                fsm_percent=event.fsm_percent,
                details=event,
            )
        case SchoolJoinedTrust():
            return replace(state, trust_id=event.trust_id, joined_trust_on=event.effective_from)
        case SchoolLeftTrust():
            return replace(state, trust_id=None, left_trust_on=event.effective_from)
        case CPDLeadDesignated(school_urn=str()):
            return replace(
                state,
                cpd_lead_trn=event.trn,
                cpd_lead_hours_per_week=event.funded_hours_per_week,
                cpd_lead_from=event.effective_from,
            )
    return state


def same_registration(state: School, details: SchoolRegistered) -> bool:
    """The school is registered with exactly these details (an import row seen before)."""
    return state.details == details


def check_funded_hours(hours: Decimal) -> None:
    if not 0 < hours <= MAX_FUNDED_HOURS_PER_WEEK:
        raise RuleBroken(
            f"funded time must be more than 0 and at most {MAX_FUNDED_HOURS_PER_WEEK} hours a"
            f" week, not {hours}",
            Rule.INVALID,
            "funded_hours_per_week",
        )


def check_lead_teacher(trn: str, teacher: TeacherFacts) -> None:
    if not teacher.registered:
        raise RuleBroken(f"no teacher {trn}: register the teacher first", Rule.NOT_FOUND, "trn")
    if teacher.left:
        raise RuleBroken(f"teacher {trn} has left the profession", Rule.CONFLICT, "trn")


def _registered(state: School) -> None:
    if not state.registered:
        raise RuleBroken("no such school: register the school first", Rule.NOT_FOUND, "urn")


def decide_school(command: SchoolCommand, state: School) -> Sequence[Event]:
    match command:
        case RegisterSchool():
            if state.registered:
                raise RuleBroken(f"school {state.urn} is registered already", Rule.CONFLICT, "urn")
            return [command.details]
        case JoinTrust():
            _registered(state)
            if not command.trust_registered:
                raise RuleBroken(
                    f"no trust {command.trust_id}: register the trust first",
                    Rule.NOT_FOUND,
                    "trust_id",
                )
            if state.trust_id == command.trust_id:
                raise RuleBroken(
                    f"school {state.urn} is in trust {command.trust_id} already",
                    Rule.CONFLICT,
                    "trust_id",
                )
            if state.trust_id is not None:
                raise RuleBroken(
                    f"school {state.urn} is in trust {state.trust_id}: it must leave that trust"
                    " first",
                    Rule.CONFLICT,
                    "trust_id",
                )
            if state.left_trust_on is not None and command.effective_from < state.left_trust_on:
                raise RuleBroken(
                    f"school {state.urn} left its last trust on {state.left_trust_on}: it can"
                    " join another on or after that day",
                    Rule.INVALID,
                    "effective_from",
                )
            return [
                SchoolJoinedTrust(
                    urn=state.urn, trust_id=command.trust_id, effective_from=command.effective_from
                )
            ]
        case LeaveTrust():
            _registered(state)
            if state.trust_id is None:
                raise RuleBroken(f"school {state.urn} is in no trust", Rule.CONFLICT, "trust_id")
            if command.trust_id is not None and command.trust_id != state.trust_id:
                raise RuleBroken(
                    f"school {state.urn} is in trust {state.trust_id}, not {command.trust_id}",
                    Rule.CONFLICT,
                    "trust_id",
                )
            if state.joined_trust_on is not None and command.effective_from < state.joined_trust_on:
                raise RuleBroken(
                    f"school {state.urn} joined trust {state.trust_id} on {state.joined_trust_on}:"
                    " it can leave on or after that day",
                    Rule.INVALID,
                    "effective_from",
                )
            return [
                SchoolLeftTrust(
                    urn=state.urn,
                    trust_id=state.trust_id,
                    effective_from=command.effective_from,
                    reason=command.reason,
                )
            ]
        case DesignateSchoolCPDLead():
            _registered(state)
            check_funded_hours(command.funded_hours_per_week)
            check_lead_teacher(command.trn, command.teacher)
            if command.teacher.school_urn != state.urn:
                raise RuleBroken(
                    f"teacher {command.trn} works at school {command.teacher.school_urn}, not at"
                    f" {state.urn}",
                    Rule.CONFLICT,
                    "trn",
                )
            if (
                state.cpd_lead_trn == command.trn
                and state.cpd_lead_hours_per_week == command.funded_hours_per_week
            ):
                raise RuleBroken(
                    f"teacher {command.trn} is the CPD lead of school {state.urn} with that"
                    " funded time already",
                    Rule.CONFLICT,
                    "trn",
                )
            if state.cpd_lead_from is not None and command.effective_from < state.cpd_lead_from:
                raise RuleBroken(
                    f"the current CPD lead is designated from {state.cpd_lead_from}: a new"
                    " designation takes effect on or after that day",
                    Rule.INVALID,
                    "effective_from",
                )
            return [
                CPDLeadDesignated(
                    trn=command.trn,
                    school_urn=state.urn,
                    funded_hours_per_week=command.funded_hours_per_week,
                    effective_from=command.effective_from,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


school_decider: Decider[School, SchoolCommand] = Decider(School, evolve_school, decide_school)
