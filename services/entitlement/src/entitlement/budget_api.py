"""HTTP: budgets and the grant run (the money side of entitlement).

Approvals keep their route in :mod:`entitlement.api` and commit funding through
:mod:`entitlement.funding_app`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cpd_events.entitlement_events import BudgetHolder
from cpd_events.types import AcademicYear, Identifier, Pence, TrustId, Urn
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of
from entitlement import funding_app
from entitlement.domain.budget import pounds
from entitlement.grants import grant_year

router = APIRouter(responses=PROBLEM_RESPONSES)


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    academic_year: AcademicYear
    holder: BudgetHolder
    trust_id: TrustId | None = Field(default=None, description="For a trust's budget")
    school_urn: Urn | None = Field(default=None, description="For a school's budget")
    amount_pence: Pence = Field(gt=0, description="Added to the budget (allocations add up)")


class BudgetAllocatedOut(BaseModel):
    budget_id: str
    stream_id: str
    stream_version: int
    events: list[str]
    event_ids: list[str]


class CommitmentOut(BaseModel):
    request_id: str
    trn: str
    school_urn: str
    amount_pence: int


class BudgetOut(BaseModel):
    budget_id: str
    holder: str
    trust_id: str | None
    school_urn: str | None
    academic_year: str
    allocated_pence: int
    committed_pence: int
    spent_pence: int
    available_pence: int = Field(description="allocated - committed - spent, never below 0")
    available: str = Field(description="The same, for people: £1,234.56")
    commitments: list[CommitmentOut]
    stream_version: int


class GrantRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    academic_year: AcademicYear


class GrantRunOut(BaseModel):
    academic_year: str
    policy_version: int
    teachers: int = Field(description="Teacher streams examined")
    granted: int = Field(description="Grants appended by this run")
    already_granted: int = Field(description="Granted under this policy version before")
    not_eligible: int = Field(description="Left the profession, or registered after the year")
    seconds: float


@router.post(
    "/budgets",
    status_code=201,
    tags=["budgets"],
    summary="Allocate money to a trust, a school or the national premium pot for a year",
    description="Allocations add up: a second allocation tops the budget up. The budget id is "
    "`<year>-<holder>-<id>`, e.g. `2025-26-school-100000`, `2025-26-trust-2044`, "
    "`2025-26-national_premium-england`.",
)
async def allocate(body: BudgetIn, request: Request) -> BudgetAllocatedOut:
    key, envelopes = await funding_app.allocate_budget(
        runtime_of(request).require_store(),
        body.academic_year,
        body.holder,
        body.trust_id,
        body.school_urn,
        body.amount_pence,
        metadata_of(request),
    )
    last = envelopes[-1]
    return BudgetAllocatedOut(
        budget_id=key,
        stream_id=last.stream_id,
        stream_version=last.stream_version,
        events=[e.event_type for e in envelopes],
        event_ids=[str(e.event_id) for e in envelopes],
    )


@router.get(
    "/budgets/{budget_id}",
    tags=["budgets"],
    summary="A budget: allocated, committed, spent and what is left",
)
async def get_budget(
    budget_id: Annotated[Identifier, Path(examples=["2025-26-school-100000"])], request: Request
) -> BudgetOut:
    state, version = await funding_app.get_budget(runtime_of(request).require_store(), budget_id)
    if not state.exists:
        raise HTTPException(404, f"no budget {budget_id}")
    return BudgetOut(
        budget_id=state.budget_id,
        holder=state.holder,
        trust_id=state.trust_id,
        school_urn=state.school_urn,
        academic_year=state.academic_year,
        allocated_pence=state.allocated,
        committed_pence=state.committed,
        spent_pence=state.spent,
        available_pence=state.available,
        available=pounds(state.available),
        commitments=[
            CommitmentOut(
                request_id=c.request_id,
                trn=c.trn,
                school_urn=c.school_urn,
                amount_pence=c.amount_pence,
            )
            for c in state.commitments.values()
        ],
        stream_version=version,
    )


@router.post(
    "/policies/grants",
    tags=["entitlement"],
    summary="Grant a year's entitlement to every active teacher under its published policy",
    description="Idempotent: teachers granted under the policy's current version are skipped, so "
    "a re-run appends nothing. Runs while the request waits, fine for a region or a test set; "
    "for the national run (470,000 teachers) operators use `cpd grant 2025/26`, which shows "
    "progress and talks to the database directly.",
)
async def grant_all(body: GrantRunIn, request: Request) -> GrantRunOut:
    run = await grant_year(
        runtime_of(request).require_store(), body.academic_year, metadata_of(request), count=False
    )
    return GrantRunOut(
        academic_year=run.academic_year,
        policy_version=run.policy_version,
        teachers=run.teachers,
        granted=run.granted,
        already_granted=run.already_granted,
        not_eligible=run.not_eligible,
        seconds=round(run.seconds, 3),
    )
