"""Mentoring's event contracts: derived fields of sessions, academic years, minor changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cpd_events import REGISTRY, InvalidEventPayload
from cpd_events.mentoring_events import LeadMentorDesignated, MentoringSessionLogged, session_hours
from cpd_events.types import academic_year_of


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2025, 9, 1), "2025/26"),
        (date(2025, 10, 1), "2025/26"),
        (date(2026, 8, 31), "2025/26"),
        (date(2026, 1, 15), "2025/26"),
        (date(2099, 9, 1), "2099/00"),
    ],
)
def test_the_academic_year_runs_from_september_to_august(day: date, year: str) -> None:
    assert academic_year_of(day) == year


def test_session_hours_round_half_up_to_two_places() -> None:
    assert session_hours(50) == Decimal("0.83")
    assert session_hours(3) == Decimal("0.05")
    assert session_hours(480) == Decimal("8.00")


def session(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "session_id": "ses-1",
        "assignment_id": "asg-1",
        "trn": "1000001",
        "mentee_trn": "2000001",
        "school_urn": "100000",
        "mentor_school_urn": "100001",
        "programme": "early_career_induction",
        "held_on": "2025-10-01",
        "minutes": 90,
        "hours": "1.50",
        "focus": "planning",
        "academic_year": "2025/26",
    }
    return {**data, **overrides}


def test_a_session_event_round_trips() -> None:
    event = REGISTRY.decode("MentoringSessionLogged", 1, session())
    assert isinstance(event, MentoringSessionLogged)
    assert (event.hours, event.academic_year) == (Decimal("1.50"), "2025/26")
    assert event.tenancy().school_urn == "100000"  # the mentee's school
    assert event.tenancy().teacher_id == "1000001"  # the mentor


@pytest.mark.parametrize(
    "overrides",
    [
        {"hours": "1.25"},
        {"academic_year": "2024/25"},
        {"minutes": 0, "hours": "0.00"},
        {"minutes": 481, "hours": "8.02"},
        {"focus": "  "},
        {"mentor_school_urn": "1"},
    ],
)
def test_a_session_event_with_inconsistent_or_invalid_fields_is_refused(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(InvalidEventPayload):
        REGISTRY.decode("MentoringSessionLogged", 1, session(**overrides))


def test_a_lead_mentor_designation_without_replaces_trn_still_reads() -> None:
    event = REGISTRY.decode("LeadMentorDesignated", 1, {"trn": "1000001", "school_urn": "100000"})
    assert event == LeadMentorDesignated(trn="1000001", school_urn="100000", replaces_trn=None)
