"""Entitlement events: policy, grants, budgets, CPD requests, hours and funding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
    WebUrl,
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
    plan_goal: Name | None = Field(
        default=None, description="The goal of the teacher's development plan the request serves"
    )
    cohort_id: Identifier | None = Field(
        default=None, description="The catalogue cohort (run of the course) asked for, if any"
    )


class FundingShare(BaseModel):
    """The part of an approved request's cost one budget pays (``budget-<budget_id>``)."""

    model_config = ConfigDict(frozen=True)

    budget_id: Identifier
    amount_pence: Pence


@event
class CPDApproved(Event):
    """``funding`` lists the budgets that pay (two under a hybrid trust model; none when the
    course is free); ``funded_from_budget_id`` repeats the first of them."""

    event_type = "CPDApproved"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    approved_by: Name
    approver_trn: Trn | None = None
    funded_from_budget_id: Identifier | None = None
    funding: list[FundingShare] = Field(default_factory=list, max_length=2)
    cost_pence: Pence


@event
class CPDDeclined(Event):
    event_type = "CPDDeclined"
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    declined_by: Name
    reason: Text = Field(min_length=1)
    decliner_trn: Trn | None = None


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


HoursSource = Annotated[str, StringConstraints(min_length=1, max_length=200)]


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
    evidence_url: WebUrl | None = None
    reflection: Text = ""
    source: HoursSource | None = Field(
        default=None,
        description="Where hours logged by the service itself come from:"
        " 'mentoring-session:<mentor trn>:<session id>:mentor|mentee' or"
        " 'mentor-training:<trn>:<course id>:<completed on>'; absent when the teacher logged them",
    )


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
    """An approved request's share committed on a budget (``trust_id``: the school's trust)."""

    event_type = "FundingCommitted"
    budget_id: Identifier
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    trust_id: TrustId | None = None
    academic_year: AcademicYear
    amount_pence: Pence


@event
class FundingSpent(Event):
    """A completed request's commitment on a budget, now spent."""

    event_type = "FundingSpent"
    budget_id: Identifier
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    trust_id: TrustId | None = None
    academic_year: AcademicYear
    amount_pence: Pence


@event
class FundingReleased(Event):
    """A commitment given back to its budget: the approved request was withdrawn or declined."""

    event_type = "FundingReleased"
    budget_id: Identifier
    request_id: Identifier
    trn: Trn
    school_urn: Urn
    trust_id: TrustId | None = None
    academic_year: AcademicYear
    amount_pence: Pence
    reason: Text = ""


@event
class DevelopmentPlanAgreed(Event):
    event_type = "DevelopmentPlanAgreed"
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    goals: list[Name] = Field(min_length=1, max_length=20)
    agreed_with: Name = Field(description="The CPD lead the teacher agreed the plan with")
    until_academic_year: AcademicYear | None = Field(
        default=None,
        description="The last academic year a multi-year plan covers (absent: this year only)",
    )


@event
class MinimumEntitlementMet(Event):
    """The teacher's logged hours for a year first reached the hours granted for it.

    Appended to the teacher's stream in the same decision as the ``HoursLogged`` or
    ``HoursLogCorrected`` that brought the year's total to ``minimum_hours`` (or as the
    ``EntitlementGranted`` of a grant made once the hours were in); at most once per teacher and
    year: a later correction below the minimum does not retract it.
    """

    event_type = "MinimumEntitlementMet"
    trn: Trn
    school_urn: Urn
    academic_year: AcademicYear
    minimum_hours: Hours = Field(description="The hours granted for the year")
    hours_logged: Hours = Field(description="The year's logged hours once it was met")
    met_on: date = Field(
        description="The activity date on which the year's hours, in date order, reached it"
    )
