"""Facts mentoring knows from other services, handed to the deciders by the application layer.

Mentoring keeps a local replica of the registry (entitlement's ``TeacherRegistered``,
``TeacherMovedSchool``, ``TeacherLeftProfession`` and ``SchoolRegistered``). The application
reads it and passes what it found into a command; ``None`` means "the replica does not know".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpd_events.decider import Rule, RuleBroken
from cpd_events.types import CareerStage


@dataclass(frozen=True)
class TeacherFacts:
    """A teacher as the registry replica knows them."""

    trn: str
    school_urn: str
    career_stage: CareerStage
    registered_on: date
    left_on: date | None = None

    @property
    def left(self) -> bool:
        return self.left_on is not None


def serving_teacher(
    trn: str, facts: TeacherFacts | None, field: str | None, role: str
) -> TeacherFacts:
    """The teacher, if the registry knows them and they have not left the profession."""
    if facts is None:
        raise RuleBroken(f"{role} {trn} is not a registered teacher", Rule.NOT_FOUND, field)
    if facts.left:
        raise RuleBroken(
            f"{role} {trn} left the profession on {facts.left_on}", Rule.CONFLICT, field
        )
    return facts
