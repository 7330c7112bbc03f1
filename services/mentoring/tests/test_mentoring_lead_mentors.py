"""Lead mentor decider: one lead mentor per school (given/when/then)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import LeadMentorDesignated, MentorRegistered, MentorSchoolAdded
from cpd_events.types import CareerStage
from mentoring.domain import (
    DesignateLeadMentor,
    Mentor,
    TeacherFacts,
    lead_mentor_decider,
    mentor_decider,
)

SCHOOL, OTHER_SCHOOL = "100000", "100001"
FIRST, SECOND = "1000001", "1000002"


def mentor(trn: str, *more_schools: str) -> Mentor:
    events: list[Event] = [MentorRegistered(trn=trn, school_urn=SCHOOL)]
    events += [MentorSchoolAdded(trn=trn, school_urn=urn) for urn in more_schools]
    state = mentor_decider.fold(events)
    assert state is not None
    return state


def teacher(trn: str, left_on: date | None = None) -> TeacherFacts:
    return TeacherFacts(trn, SCHOOL, CareerStage.EXPERIENCED, date(2015, 9, 1), left_on)


def designate(
    trn: str = FIRST,
    school_urn: str = SCHOOL,
    state: Mentor | None = None,
    facts: TeacherFacts | None = None,
) -> DesignateLeadMentor:
    return DesignateLeadMentor(
        school_urn, trn, state if state is not None else mentor(trn), facts or teacher(trn)
    )


def designated(trn: str = FIRST, replaces: str | None = None) -> LeadMentorDesignated:
    return LeadMentorDesignated(trn=trn, school_urn=SCHOOL, replaces_trn=replaces)


def refusal(given: list[Event], command: DesignateLeadMentor) -> tuple[Rule, str | None]:
    with pytest.raises(RuleBroken) as caught:
        lead_mentor_decider.run(given=given, command=command)
    return caught.value.rule, caught.value.field


def test_a_school_gets_a_lead_mentor() -> None:
    assert lead_mentor_decider.run(given=[], command=designate()) == [designated()]


def test_designating_another_lead_mentor_replaces_the_first() -> None:
    then = lead_mentor_decider.run(given=[designated()], command=designate(SECOND))
    assert then == [designated(SECOND, replaces=FIRST)]
    lead = lead_mentor_decider.fold([designated(), *then])
    assert (lead.trn, lead.previous) == (SECOND, (FIRST,))


def test_the_lead_mentor_is_designated_once() -> None:
    assert refusal([designated()], designate()) == (Rule.CONFLICT, "trn")


def test_the_lead_mentor_is_a_registered_mentor() -> None:
    command = DesignateLeadMentor(SCHOOL, FIRST, None, teacher(FIRST))
    assert refusal([], command) == (Rule.NOT_FOUND, "trn")


def test_the_lead_mentor_serves_the_school() -> None:
    assert refusal([], designate(school_urn=OTHER_SCHOOL)) == (Rule.CONFLICT, "trn")
    command = designate(school_urn=OTHER_SCHOOL, state=mentor(FIRST, OTHER_SCHOOL))
    assert lead_mentor_decider.run(given=[], command=command) == [
        LeadMentorDesignated(trn=FIRST, school_urn=OTHER_SCHOOL)
    ]


def test_a_mentor_who_left_the_profession_cannot_lead() -> None:
    command = designate(facts=replace(teacher(FIRST), left_on=date(2025, 12, 31)))
    assert refusal([], command) == (Rule.CONFLICT, "trn")
