"""Providers: the organisations that offer courses."""

from __future__ import annotations

from dataclasses import dataclass

from cpd_events.catalogue_events import ProviderRegistered
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class RegisterProvider:
    provider_id: str
    name: str
    kind: str


ProviderCommand = RegisterProvider


def decide_provider(command: ProviderCommand, state: Provider | None) -> list[Event]:
    if state is not None:
        raise RuleBroken(
            f"provider {command.provider_id} is registered already", Rule.CONFLICT, "provider_id"
        )
    return [
        ProviderRegistered(provider_id=command.provider_id, name=command.name, kind=command.kind)
    ]


def evolve_provider(state: Provider | None, event: Event) -> Provider | None:
    if isinstance(event, ProviderRegistered):
        return Provider(provider_id=event.provider_id, name=event.name, kind=event.kind)
    return state


#: One provider's stream, ``provider-<provider_id>``; ``None`` until it is registered.
provider_decider: Decider[Provider | None, ProviderCommand] = Decider(
    initial=lambda: None, evolve=evolve_provider, decide=decide_provider
)
