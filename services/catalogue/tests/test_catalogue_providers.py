"""Providers decider: given past events, when a command arrives, then these events."""

from __future__ import annotations

import pytest

from catalogue.domain import RegisterProvider, provider_decider
from cpd_events.catalogue_events import ProviderRegistered
from cpd_events.decider import Rule, RuleBroken

REGISTERED = ProviderRegistered(provider_id="ucl", name="UCL", kind="university")


def test_a_new_provider_is_registered() -> None:
    command = RegisterProvider(provider_id="ucl", name="UCL", kind="university")
    assert provider_decider.run(given=[], command=command) == [REGISTERED]


def test_a_provider_is_registered_once() -> None:
    command = RegisterProvider(provider_id="ucl", name="UCL again", kind="university")
    with pytest.raises(RuleBroken) as refused:
        provider_decider.run(given=[REGISTERED], command=command)
    assert (refused.value.rule, refused.value.field) == (Rule.CONFLICT, "provider_id")


def test_the_state_is_what_the_stream_tells() -> None:
    provider = provider_decider.fold([REGISTERED])
    assert provider is not None
    assert (provider.provider_id, provider.name, provider.kind) == ("ucl", "UCL", "university")
    assert provider_decider.fold([]) is None
