"""A published policy is granted to every active teacher by the background runner."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cpd_events import Metadata
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_events.types import CareerStage
from cpd_eventstore import EventStore, migrate
from cpd_eventstore.db import Pool
from entitlement import grant_runner
from entitlement.app import Entitlement
from entitlement.consumers import MIGRATIONS
from entitlement.domain.policy import PublishPolicy

pytestmark = pytest.mark.integration
META = Metadata(actor="test")


async def test_a_published_policy_is_granted_once_to_every_active_teacher(
    pool: Pool, store: EventStore
) -> None:
    await migrate(pool, "entitlement", [*MIGRATIONS, *grant_runner.MIGRATIONS])
    service = Entitlement(store)
    await service.register_school(
        SchoolRegistered(urn="100000", name="A school", local_authority="201", phase="Primary"),
        META,
    )
    for trn in ("1000001", "1000002", "1000003"):
        await service.register_teacher(
            TeacherRegistered(
                trn=trn,
                school_urn="100000",
                given_name="A",
                family_name="B",
                career_stage=CareerStage.EXPERIENCED,
                fte=Decimal(100),
                registered_on=date(2025, 9, 1),
            ),
            META,
        )
    assert await grant_runner.pending_policies(pool) == []
    policy = PublishPolicy(
        "2025/26", Decimal(35), 60_000, Decimal(20), Decimal(10), date(2025, 9, 1)
    )
    await service.publish_policy(policy, META)
    assert await grant_runner.pending_policies(pool) == [("2025/26", 1)]

    [run] = await grant_runner.run_pending(store)
    assert run.granted == 3
    assert await grant_runner.pending_policies(pool) == []
    assert await grant_runner.run_pending(store) == []  # nothing pending: nothing runs

    await service.publish_policy(policy, META)  # a correction is a new version: granted again
    [corrected] = await grant_runner.run_pending(store)
    assert (corrected.policy_version, corrected.granted) == (2, 3)
    grants = await pool.fetchval(
        "select count(*) from es.events where event_type = 'EntitlementGranted'"
    )
    assert grants == 6
