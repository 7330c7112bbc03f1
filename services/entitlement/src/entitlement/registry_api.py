"""HTTP commands and queries of the registry: trusts, their funding model and CPD leads, schools
joining and leaving trusts, school CPD leads, and operators' schools without a CPD lead."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ValidationError

from cpd_events.decider import Rule, RuleBroken
from cpd_events.registry_events import TrustFundingModelChosen, TrustRegistered
from cpd_events.types import FundingModel, Hours, Percent, Text, Trn, TrustId, Urn
from cpd_eventstore.application import load
from cpd_platform.http import PROBLEM_RESPONSES, Offset, metadata_of
from cpd_platform.runtime import runtime_of
from entitlement.api import Accepted, Body, accepted
from entitlement.domain.registry import LeaveTrust, school_decider, school_stream
from entitlement.domain.teacher import teacher_decider, teacher_stream
from entitlement.domain.trust import trust_decider, trust_stream
from entitlement.registry_app import Registry
from entitlement.registry_view import schools_of_trust, schools_without_cpd_lead

router = APIRouter(responses=PROBLEM_RESPONSES)
UrnPath = Annotated[Urn, Path(description="School unique reference number")]
TrustPath = Annotated[TrustId, Path(description="Trust group UID")]
TAGS: list[str | Enum] = ["registry"]


def registry(request: Request) -> Registry:
    return Registry(runtime_of(request).require_store())


class TrustIn(TrustRegistered, Body):
    """A trust to register: its group UID, name and region."""


class FundingModelIn(Body):
    model: FundingModel
    central_share_percent: Percent | None = None
    effective_from: date


class JoinTrustIn(Body):
    trust_id: TrustId
    effective_from: date


class LeaveTrustIn(Body):
    effective_from: date
    reason: Text = ""
    trust_id: TrustId | None = None


class CPDLeadIn(Body):
    trn: Trn
    funded_hours_per_week: Hours
    effective_from: date


@router.post("/trusts", status_code=201, tags=TAGS, summary="Register a trust")
async def register_trust(body: TrustIn, request: Request) -> Accepted:
    details = TrustRegistered.model_validate(body.model_dump())
    return accepted(await registry(request).register_trust(details, metadata_of(request)))


_SHARE_OF = {FundingModel.CENTRALISED: Decimal(100), FundingModel.DELEGATED: Decimal(0)}


@router.post(
    "/trusts/{trust_id}/funding-model",
    status_code=201,
    tags=TAGS,
    summary="Choose a trust's funding model: centralised, delegated or hybrid with a central share",
    description="Decides which pot pays for an approved request: the trust's (centralised), the"
    " school's (delegated), or the trust `central_share_percent` and the school the rest"
    " (hybrid; strictly between 0 and 100). The share defaults to 100 for centralised, 0 for"
    " delegated.",
)
async def choose_funding_model(
    trust_id: TrustPath, body: FundingModelIn, request: Request
) -> Accepted:
    share = body.central_share_percent
    if share is None:
        share = _SHARE_OF.get(body.model)
        if share is None:
            raise RuleBroken(
                "a hybrid model needs a central share", Rule.INVALID, "central_share_percent"
            )
    try:
        choice = TrustFundingModelChosen(
            trust_id=trust_id,
            model=body.model,
            central_share_percent=share,
            effective_from=body.effective_from,
        )
    except ValidationError as error:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise RuleBroken(message, Rule.INVALID, "central_share_percent") from None
    return accepted(await registry(request).choose_funding_model(choice, metadata_of(request)))


@router.post("/schools/{urn}/trust", status_code=201, tags=TAGS, summary="A school joins a trust")
async def join_trust(urn: UrnPath, body: JoinTrustIn, request: Request) -> Accepted:
    envelopes = await registry(request).join_trust(
        urn, body.trust_id, body.effective_from, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/schools/{urn}/trust/leave",
    status_code=201,
    tags=TAGS,
    summary="A school leaves its trust",
)
async def leave_trust(urn: UrnPath, body: LeaveTrustIn, request: Request) -> Accepted:
    command = LeaveTrust(body.effective_from, body.reason, body.trust_id)
    return accepted(await registry(request).leave_trust(urn, command, metadata_of(request)))


@router.post(
    "/schools/{urn}/cpd-lead",
    status_code=201,
    tags=TAGS,
    summary="Designate a school's funded CPD lead (replaces the current one)",
)
async def designate_school_lead(urn: UrnPath, body: CPDLeadIn, request: Request) -> Accepted:
    envelopes = await registry(request).designate_school_lead(
        urn, body.trn, body.funded_hours_per_week, body.effective_from, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/trusts/{trust_id}/cpd-leads",
    status_code=201,
    tags=TAGS,
    summary="Designate a trust-level funded CPD lead (a teacher at one of its schools)",
)
async def designate_trust_lead(trust_id: TrustPath, body: CPDLeadIn, request: Request) -> Accepted:
    envelopes = await registry(request).designate_trust_lead(
        trust_id, body.trn, body.funded_hours_per_week, body.effective_from, metadata_of(request)
    )
    return accepted(envelopes)


class CPDLeadOut(BaseModel):
    trn: str
    funded_hours_per_week: Hours
    effective_from: date
    active: bool  # still a teacher of this school (or trust) who has not left the profession


class SchoolOut(BaseModel):
    urn: str
    name: str
    local_authority: str
    phase: str
    region: str | None
    pupils_on_roll: int | None
    fsm_percent: Decimal | None
    pp50: bool
    trust_id: str | None
    joined_trust_on: date | None
    cpd_lead: CPDLeadOut | None
    stream_version: int


@router.get("/schools/{urn}", tags=TAGS, summary="A school: details, trust and CPD lead")
async def get_school(urn: UrnPath, request: Request) -> SchoolOut:
    store = runtime_of(request).require_store()
    loaded = await load(store, school_stream(urn), school_decider)
    school = loaded.state
    if not school.registered:
        raise HTTPException(404, f"no school {urn}")
    lead = None
    if school.cpd_lead_trn is not None:
        teacher = (await load(store, teacher_stream(school.cpd_lead_trn), teacher_decider)).state
        lead = CPDLeadOut(
            trn=school.cpd_lead_trn,
            funded_hours_per_week=school.cpd_lead_hours_per_week or Decimal(0),
            effective_from=school.cpd_lead_from or date.min,
            active=teacher.registered and not teacher.left and teacher.school_urn == urn,
        )
    return SchoolOut(
        urn=school.urn,
        name=school.name,
        local_authority=school.local_authority,
        phase=school.phase,
        region=school.region,
        pupils_on_roll=school.pupils_on_roll,
        fsm_percent=school.fsm_percent,
        pp50=school.pp50,
        trust_id=school.trust_id,
        joined_trust_on=school.joined_trust_on,
        cpd_lead=lead,
        stream_version=loaded.version,
    )


class TrustSchoolOut(BaseModel):
    urn: str
    name: str
    joined_on: date | None
    cpd_lead_trn: str | None


class TrustOut(BaseModel):
    trust_id: str
    name: str
    region: str | None
    funding_model: FundingModel | None
    central_share_percent: Decimal
    funding_model_from: date | None
    cpd_leads: list[CPDLeadOut]
    schools: list[TrustSchoolOut]
    stream_version: int


@router.get(
    "/trusts/{trust_id}",
    tags=TAGS,
    summary="A trust: funding model, CPD leads and schools",
    description="The schools come from the registry view, which lags the commands by"
    " milliseconds. No funding model chosen means schools pay (central share 0).",
)
async def get_trust(trust_id: TrustPath, request: Request) -> TrustOut:
    runtime = runtime_of(request)
    loaded = await load(runtime.require_store(), trust_stream(trust_id), trust_decider)
    trust = loaded.state
    if not trust.registered:
        raise HTTPException(404, f"no trust {trust_id}")
    schools = await schools_of_trust(runtime.require_pool(), trust_id)
    in_trust = {s.urn for s in schools}
    leads = []
    for lead in trust.cpd_leads.values():
        teacher = (
            await load(runtime.require_store(), teacher_stream(lead.trn), teacher_decider)
        ).state
        leads.append(
            CPDLeadOut(
                trn=lead.trn,
                funded_hours_per_week=lead.funded_hours_per_week,
                effective_from=lead.effective_from,
                active=teacher.registered and not teacher.left and teacher.school_urn in in_trust,
            )
        )
    return TrustOut(
        trust_id=trust.trust_id,
        name=trust.name,
        region=trust.region,
        funding_model=trust.funding_model,
        central_share_percent=trust.central_share_percent,
        funding_model_from=trust.funding_model_from,
        cpd_leads=leads,
        schools=[
            TrustSchoolOut(
                urn=s.urn, name=s.name, joined_on=s.joined_on, cpd_lead_trn=s.cpd_lead_trn
            )
            for s in schools
        ],
        stream_version=loaded.version,
    )


class SchoolWithoutLeadOut(BaseModel):
    urn: str
    name: str
    local_authority: str
    phase: str
    region: str | None
    pupils_on_roll: int | None
    pp50: bool
    trust_id: str | None
    trust_cpd_leads: int
    reason: str


class SchoolsWithoutLeadPage(BaseModel):
    total: int
    limit: int
    offset: int
    schools: list[SchoolWithoutLeadOut]


@router.get(
    "/operators/schools-without-cpd-lead",
    tags=["operators"],
    summary="Schools with no CPD lead: none designated, or the lead left or moved",
    description="From the registry view (lags commands by milliseconds), ordered by URN."
    " `trust_cpd_leads` counts the active trust-level leads of the school's trust.",
)
async def get_schools_without_lead(
    request: Request,
    local_authority: Annotated[
        str | None, Query(max_length=100, description="DfE LA code, e.g. 886")
    ] = None,
    trust_id: Annotated[TrustId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> SchoolsWithoutLeadPage:
    total, schools = await schools_without_cpd_lead(
        runtime_of(request).require_pool(), local_authority, trust_id, limit, offset
    )
    return SchoolsWithoutLeadPage(
        total=total,
        limit=limit,
        offset=offset,
        schools=[SchoolWithoutLeadOut(**s.__dict__) for s in schools],
    )
