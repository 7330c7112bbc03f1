"""Registry events (owned by entitlement): trusts, schools, CPD leads, teachers."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from cpd_events.envelope import Event
from cpd_events.registry import event
from cpd_events.types import (
    CareerStage,
    FundingModel,
    Hours,
    Name,
    Percent,
    Region,
    Text,
    Trn,
    TrustId,
    Urn,
)


@event
class TrustRegistered(Event):
    event_type = "TrustRegistered"
    trust_id: TrustId
    name: Name
    region: Region | None = None
    companies_house_number: str | None = None


@event
class SchoolRegistered(Event):
    event_type = "SchoolRegistered"
    urn: Urn
    name: Name
    local_authority: str = Field(min_length=1, max_length=100)
    phase: str = Field(min_length=1, max_length=100, examples=["State-funded primary"])
    region: Region | None = None
    pupils_on_roll: int | None = Field(default=None, ge=0)
    fsm_percent: Percent | None = None
    pp50: bool = False


@event
class SchoolJoinedTrust(Event):
    event_type = "SchoolJoinedTrust"
    urn: Urn
    trust_id: TrustId
    effective_from: date


@event
class SchoolLeftTrust(Event):
    event_type = "SchoolLeftTrust"
    urn: Urn
    trust_id: TrustId
    effective_from: date
    reason: Text = ""


@event
class CPDLeadDesignated(Event):
    event_type = "CPDLeadDesignated"
    trn: Trn
    school_urn: Urn | None = None
    trust_id: TrustId | None = None
    funded_hours_per_week: Hours
    effective_from: date

    @model_validator(mode="after")
    def _for_school_or_trust(self) -> CPDLeadDesignated:
        if (self.school_urn is None) == (self.trust_id is None):
            raise ValueError("a CPD lead is designated for a school or for a trust, not both")
        return self


@event
class TrustFundingModelChosen(Event):
    event_type = "TrustFundingModelChosen"
    trust_id: TrustId
    model: FundingModel
    central_share_percent: Percent = Field(
        default=..., description="Share paid centrally: 100 centralised, 0 delegated"
    )
    effective_from: date

    @model_validator(mode="after")
    def _share_matches_model(self) -> TrustFundingModelChosen:
        share = self.central_share_percent
        if self.model is FundingModel.CENTRALISED and share != 100:
            raise ValueError("a centralised model pays 100% centrally")
        if self.model is FundingModel.DELEGATED and share != 0:
            raise ValueError("a delegated model pays 0% centrally")
        if self.model is FundingModel.HYBRID and not 0 < share < 100:
            raise ValueError("a hybrid model's central share lies strictly between 0 and 100")
        return self


@event
class TeacherRegistered(Event):
    event_type = "TeacherRegistered"
    trn: Trn
    school_urn: Urn
    given_name: Name
    family_name: Name
    career_stage: CareerStage
    fte: Percent = Field(description="Full-time equivalent as a percentage, 100 = full time")
    registered_on: date


@event
class TeacherMovedSchool(Event):
    event_type = "TeacherMovedSchool"
    trn: Trn
    from_school_urn: Urn
    school_urn: Urn = Field(description="The school the teacher moved to")
    moved_on: date


@event
class TeacherLeftProfession(Event):
    event_type = "TeacherLeftProfession"
    trn: Trn
    school_urn: Urn
    left_on: date
    reason: Text = ""
