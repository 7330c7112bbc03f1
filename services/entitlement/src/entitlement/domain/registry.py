"""Schools in the registry (stream ``school-<urn>``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cpd_events import Event
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.registry_events import SchoolRegistered


@dataclass(frozen=True)
class School:
    registered: bool = False
    urn: str = ""
    name: str = ""
    pp50: bool = False


@dataclass(frozen=True)
class RegisterSchool:
    details: SchoolRegistered


def school_stream(urn: str) -> str:
    return f"school-{urn}"


def evolve_school(state: School, event: Event) -> School:
    match event:
        case SchoolRegistered(urn=urn, name=name, pp50=pp50):
            return replace(state, registered=True, urn=urn, name=name, pp50=pp50)
    return state


def decide_school(command: RegisterSchool, state: School) -> Sequence[Event]:
    if state.registered:
        raise RuleBroken(f"school {state.urn} is registered already", Rule.CONFLICT, "urn")
    return [command.details]


school_decider: Decider[School, RegisterSchool] = Decider(School, evolve_school, decide_school)
