"""Lead mentors: one per school (stream ``school-lead-mentor-<urn>``).

Designating another lead mentor replaces the current one; the event names whom it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import LeadMentorDesignated
from mentoring.domain.facts import TeacherFacts, serving_teacher
from mentoring.domain.mentors import Mentor


def lead_mentor_stream(school_urn: str) -> str:
    return f"school-lead-mentor-{school_urn}"


@dataclass(frozen=True)
class LeadMentor:
    """A school's lead mentor (``None`` until one is designated) and the ones before."""

    trn: str | None = None
    previous: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesignateLeadMentor:
    school_urn: str
    trn: str
    mentor: Mentor | None  # the state of the mentor's stream, None if not registered
    teacher: TeacherFacts | None  # the registry replica's view of the teacher


def decide_lead_mentor(command: DesignateLeadMentor, state: LeadMentor) -> list[Event]:
    if command.mentor is None:
        raise RuleBroken(f"teacher {command.trn} is not a registered mentor", Rule.NOT_FOUND, "trn")
    serving_teacher(command.trn, command.teacher, "trn", "mentor")
    if not command.mentor.serves(command.school_urn):
        raise RuleBroken(
            f"mentor {command.trn} does not serve school {command.school_urn}",
            Rule.CONFLICT,
            "trn",
        )
    if state.trn == command.trn:
        raise RuleBroken(
            f"mentor {command.trn} is the lead mentor of {command.school_urn} already",
            Rule.CONFLICT,
            "trn",
        )
    return [
        LeadMentorDesignated(trn=command.trn, school_urn=command.school_urn, replaces_trn=state.trn)
    ]


def evolve_lead_mentor(state: LeadMentor, event: Event) -> LeadMentor:
    if isinstance(event, LeadMentorDesignated):
        previous = (*state.previous, state.trn) if state.trn else state.previous
        return LeadMentor(trn=event.trn, previous=previous)
    return state


#: One school's lead mentor, ``school-lead-mentor-<urn>``.
lead_mentor_decider: Decider[LeadMentor, DesignateLeadMentor] = Decider(
    initial=LeadMentor, evolve=evolve_lead_mentor, decide=decide_lead_mentor
)
