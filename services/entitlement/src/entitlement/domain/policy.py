"""Entitlement policy per academic year (stream ``policy-<year>``).

A published policy is immutable; a correction is a new version of the year's policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cpd_events import Event
from cpd_events.decider import Decider
from cpd_events.entitlement_events import EntitlementPolicyPublished


@dataclass(frozen=True)
class Policy:
    current: EntitlementPolicyPublished | None = None

    @property
    def version(self) -> int:
        return self.current.policy_version if self.current else 0


@dataclass(frozen=True)
class PublishPolicy:
    academic_year: str
    minimum_hours: Decimal
    base_funding_per_fte_pence: int
    pp50_uplift_percent: Decimal
    early_career_uplift_percent: Decimal
    effective_from: date


def policy_stream(academic_year: str) -> str:
    return f"policy-{academic_year.replace('/', '-')}"


def evolve_policy(state: Policy, event: Event) -> Policy:
    if isinstance(event, EntitlementPolicyPublished):
        return Policy(current=event)
    return state


def decide_policy(command: PublishPolicy, state: Policy) -> Sequence[Event]:
    return [
        EntitlementPolicyPublished(
            academic_year=command.academic_year,
            policy_version=state.version + 1,
            minimum_hours=command.minimum_hours,
            base_funding_per_fte_pence=command.base_funding_per_fte_pence,
            pp50_uplift_percent=command.pp50_uplift_percent,
            early_career_uplift_percent=command.early_career_uplift_percent,
            effective_from=command.effective_from,
        )
    ]


policy_decider: Decider[Policy, PublishPolicy] = Decider(Policy, evolve_policy, decide_policy)
