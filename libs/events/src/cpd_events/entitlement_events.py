"""Entitlement events: policy, grants, budgets, CPD requests, hours and funding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from cpd_events.envelope import Event
from cpd_events.registry import event, upcaster
from cpd_events.types import (
    AcademicYear,
    ActivityType,
    Hours,
    Identifier,
    Name,
    Pence,
    Percent,
    Text,
    Trn,
    TrustId,
    Urn,
    hours,
)


@event
class EntitlementPolicyPublished(Event):
    event_type = "EntitlementPolicyPublished"
    academic_year: AcademicYear
    policy_version: int = Field(ge=1, description="A correction is a new version")
    minimum_hours: Hours
    base_funding_per_fte_pence: Pence
    pp50_uplift_percent: Percent = Field(description="Premium for PP50 (disadvantaged) schools")
    early_career_uplift_percent: Percent
    effective_from: date


@event
class EntitlementGranted(Event):
    event_type = "EntitlementGranted"
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    policy_version: int = Field(ge=1)
    hours: Hours
    funding_pence: Pence
    pro_rata_percent: Percent = Decimal(100)


BudgetHolder = Literal["trust", "school", "national_premium"]


@event
class BudgetAllocated(Event):
    event_type = "BudgetAllocated"
    budget_id: Identifier
    holder: BudgetHolder
    trust_id: TrustId | None = None
    school_urn: Urn | None = None
    academic_year: AcademicYear
    amount_pence: Pence


@event
class CPDRequested(Event):
    event_type = "CPDRequested"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    course_id: Identifier
    academic_year: AcademicYear
    cost_pence: Pence
    expected_hours: Hours
    reason: Text = ""


@event
class CPDApproved(Event):
    event_type = "CPDApproved"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    approved_by: Name
    funded_from_budget_id: Identifier | None = None
    cost_pence: Pence


@event
class CPDDeclined(Event):
    event_type = "CPDDeclined"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    declined_by: Name
    reason: Text = Field(min_length=1)


@event
class CPDWithdrawn(Event):
    event_type = "CPDWithdrawn"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    reason: Text = ""


@event
class CPDCompleted(Event):
    event_type = "CPDCompleted"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    course_id: Identifier
    completed_on: date


@event
class HoursLogged(Event):
    """Version 2: hours as a two-place decimal with an activity type.

    Version 1 (the pilot) recorded whole minutes and no activity type; see the upcaster below.
    """

    event_type = "HoursLogged"
    schema_version = 2
    log_id: Identifier
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    hours: Hours = Field(gt=0)
    activity_type: ActivityType
    activity_date: date
    request_id: Identifier | None = None
    description: Text = ""


@upcaster("HoursLogged", from_version=1)
def _hours_logged_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """The pilot logged ``minutes`` (int) and no activity type: convert to hours, 'other'."""
    minutes = data.pop("minutes")
    data["hours"] = str(hours(Decimal(minutes) / 60))
    data.setdefault("activity_type", "other")
    return data


@event
class HoursLogCorrected(Event):
    event_type = "HoursLogCorrected"
    log_id: Identifier
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    corrected_hours: Hours
    reason: Text = Field(min_length=1)


@event
class FundingCommitted(Event):
    event_type = "FundingCommitted"
    budget_id: Identifier
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    amount_pence: Pence


@event
class FundingSpent(Event):
    event_type = "FundingSpent"
    budget_id: Identifier
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    amount_pence: Pence


@event
class DevelopmentPlanAgreed(Event):
    event_type = "DevelopmentPlanAgreed"
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    goals: list[Name] = Field(min_length=1, max_length=20)
    agreed_with: Name
