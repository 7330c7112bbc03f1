"""Providers decider: given past events, when a command arrives, then these events."""

from __future__ import annotations

import pytest

from catalogue.domain import (
    DeactivateProvider,
    ProviderCommand,
    RegisterProvider,
    UpdateProvider,
    provider_decider,
)
from cpd_events.catalogue_events import ProviderDeactivated, ProviderRegistered, ProviderUpdated
from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import ProviderKind

REGISTERED = ProviderRegistered(provider_id="ucl", name="UCL", kind=ProviderKind.UNIVERSITY)
DEACTIVATED = ProviderDeactivated(provider_id="ucl", reason="contract ended")


def refused(given: list[Event], command: ProviderCommand) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        provider_decider.run(given=given, command=command)
    return caught.value


# --- registering ------------------------------------------------------------------------------


def test_a_new_provider_is_registered() -> None:
    command = RegisterProvider(provider_id="ucl", name="UCL", kind=ProviderKind.UNIVERSITY)
    assert provider_decider.run(given=[], command=command) == [REGISTERED]


def test_a_provider_is_registered_once() -> None:
    command = RegisterProvider(provider_id="ucl", name="UCL again", kind=ProviderKind.UNIVERSITY)
    error = refused([REGISTERED], command)
    assert (error.rule, error.field) == (Rule.CONFLICT, "provider_id")


# --- updating ---------------------------------------------------------------------------------


def test_an_update_records_only_what_changes() -> None:
    command = UpdateProvider(
        provider_id="ucl", name="UCL Institute of Education", kind=ProviderKind.UNIVERSITY
    )
    then = provider_decider.run(given=[REGISTERED], command=command)
    assert then == [ProviderUpdated(provider_id="ucl", name="UCL Institute of Education")]


def test_the_kind_can_change() -> None:
    command = UpdateProvider(provider_id="ucl", kind=ProviderKind.NPQ_LEAD_PROVIDER)
    then = provider_decider.run(given=[REGISTERED], command=command)
    assert then == [ProviderUpdated(provider_id="ucl", kind=ProviderKind.NPQ_LEAD_PROVIDER)]


def test_an_update_that_changes_nothing_writes_nothing() -> None:
    command = UpdateProvider(provider_id="ucl", name="UCL", kind=ProviderKind.UNIVERSITY)
    assert provider_decider.run(given=[REGISTERED], command=command) == []


def test_an_update_names_something_to_change() -> None:
    error = refused([REGISTERED], UpdateProvider(provider_id="ucl"))
    assert error.rule == Rule.INVALID


def test_an_unknown_provider_cannot_be_updated() -> None:
    assert refused([], UpdateProvider(provider_id="ucl", name="UCL")).rule == Rule.NOT_FOUND


def test_a_deactivated_provider_cannot_be_updated() -> None:
    error = refused([REGISTERED, DEACTIVATED], UpdateProvider(provider_id="ucl", name="UCL 2"))
    assert error.rule == Rule.CONFLICT


# --- deactivating -----------------------------------------------------------------------------


def test_a_provider_is_deactivated_with_a_reason() -> None:
    command = DeactivateProvider(provider_id="ucl", reason="contract ended")
    assert provider_decider.run(given=[REGISTERED], command=command) == [DEACTIVATED]


def test_deactivating_needs_a_reason() -> None:
    error = refused([REGISTERED], DeactivateProvider(provider_id="ucl", reason="  "))
    assert (error.rule, error.field) == (Rule.INVALID, "reason")


def test_a_provider_is_deactivated_once() -> None:
    error = refused([REGISTERED, DEACTIVATED], DeactivateProvider(provider_id="ucl", reason="x"))
    assert error.rule == Rule.CONFLICT


def test_an_unknown_provider_cannot_be_deactivated() -> None:
    assert refused([], DeactivateProvider(provider_id="ucl", reason="x")).rule == Rule.NOT_FOUND


# --- state ------------------------------------------------------------------------------------


def test_the_state_is_what_the_stream_tells() -> None:
    provider = provider_decider.fold([REGISTERED])
    assert provider is not None
    assert (provider.provider_id, provider.name, provider.kind, provider.active) == (
        "ucl",
        "UCL",
        ProviderKind.UNIVERSITY,
        True,
    )
    assert provider_decider.fold([]) is None
    renamed = ProviderUpdated(provider_id="ucl", name="UCL IOE")
    provider = provider_decider.fold([REGISTERED, renamed, DEACTIVATED])
    assert provider is not None
    assert (provider.name, provider.kind) == ("UCL IOE", ProviderKind.UNIVERSITY)
    assert (provider.active, provider.deactivation_reason) == (False, "contract ended")
