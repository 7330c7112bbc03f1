"""Which pot pays for an approved CPD request, and who may approve it. Pure functions.

- A school in no trust, or in a trust that delegates (or has chosen no model yet), pays from its
  own budget (``<year>-school-<urn>``); its CPD lead approves.
- A centralised trust pays from the trust's budget (``<year>-trust-<id>``); a trust CPD lead
  approves.
- A hybrid trust pays its central share from the trust's budget and the rest from the school's:
  the central part is rounded half up to the penny and the school pays the remainder, so the two
  parts always add up to the cost; a part of £0.00 is left out. The school's CPD lead approves.

The national premium pot (``<year>-national_premium-england``) never pays for approvals: the
PP50 premium reaches teachers through their grant (the policy's uplift), so paying approvals from
it too would count the premium twice. Operators allocate it to record the national sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cpd_events.entitlement_events import FundingShare
from cpd_events.types import FundingModel
from entitlement.domain.budget import school_budget_id, trust_budget_id


@dataclass(frozen=True)
class Arrangement:
    """How a school's approved CPD is paid for: the school, its trust and the trust's model."""

    school_urn: str
    trust_id: str | None = None
    model: FundingModel | None = None
    central_share_percent: Decimal = Decimal(0)

    @property
    def effective_model(self) -> FundingModel:
        """No trust, or a trust with no model chosen yet: the school pays (delegated)."""
        if self.trust_id is None or self.model is None:
            return FundingModel.DELEGATED
        return self.model


def arrangement_of(
    school_urn: str,
    trust_id: str | None,
    model: FundingModel | None,
    central_share_percent: Decimal,
) -> Arrangement:
    if trust_id is None:
        return Arrangement(school_urn)
    return Arrangement(school_urn, trust_id, model, central_share_percent)


def central_part(cost_pence: int, central_share_percent: Decimal) -> int:
    """The trust's part of a cost under a central share, rounded half up to the penny."""
    part = Decimal(cost_pence) * central_share_percent / 100
    return int(part.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pots(arrangement: Arrangement, academic_year: str, cost_pence: int) -> list[FundingShare]:
    """The budgets that pay ``cost_pence`` and how much each: one, or two under a hybrid model.

    A free course commits nothing (an empty list).
    """
    school = school_budget_id(academic_year, arrangement.school_urn)
    match arrangement.effective_model:
        case FundingModel.DELEGATED:
            shares = [(school, cost_pence)]
        case FundingModel.CENTRALISED:
            assert arrangement.trust_id is not None
            shares = [(trust_budget_id(academic_year, arrangement.trust_id), cost_pence)]
        case FundingModel.HYBRID:
            assert arrangement.trust_id is not None
            central = central_part(cost_pence, arrangement.central_share_percent)
            shares = [
                (trust_budget_id(academic_year, arrangement.trust_id), central),
                (school, cost_pence - central),
            ]
    return [FundingShare(budget_id=b, amount_pence=amount) for b, amount in shares if amount > 0]


def approvers(
    arrangement: Arrangement, school_cpd_lead: str | None, trust_cpd_leads: frozenset[str]
) -> frozenset[str]:
    """Who may approve the school's requests: the trust's CPD leads under a centralised model
    (the trust pays), otherwise the school's CPD lead."""
    if arrangement.effective_model is FundingModel.CENTRALISED:
        return trust_cpd_leads
    return frozenset({school_cpd_lead}) if school_cpd_lead else frozenset()


def approver_role(arrangement: Arrangement) -> str:
    """For messages: whose CPD lead approves the school's requests."""
    if arrangement.effective_model is FundingModel.CENTRALISED:
        return f"a CPD lead of trust {arrangement.trust_id} (centralised funding)"
    return f"the CPD lead of school {arrangement.school_urn}"
