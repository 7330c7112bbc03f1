"""Providers: the organisations that offer courses."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cpd_events.catalogue_events import ProviderDeactivated, ProviderRegistered, ProviderUpdated
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import ProviderKind


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    kind: ProviderKind
    active: bool = True
    deactivation_reason: str | None = None


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterProvider:
    provider_id: str
    name: str
    kind: ProviderKind


@dataclass(frozen=True, kw_only=True)
class UpdateProvider:
    """Fields left ``None`` stay as they are."""

    provider_id: str
    name: str | None = None
    kind: ProviderKind | None = None


@dataclass(frozen=True)
class DeactivateProvider:
    provider_id: str
    reason: str


ProviderCommand = RegisterProvider | UpdateProvider | DeactivateProvider

PROVIDER_EVENTS = (ProviderRegistered, ProviderUpdated, ProviderDeactivated)


def _registered(command: UpdateProvider | DeactivateProvider, state: Provider | None) -> Provider:
    if state is None:
        raise RuleBroken(f"provider {command.provider_id} is not registered", Rule.NOT_FOUND)
    if not state.active:
        raise RuleBroken(f"provider {state.provider_id} is deactivated", Rule.CONFLICT)
    return state


def decide_provider(command: ProviderCommand, state: Provider | None) -> list[Event]:
    match command:
        case RegisterProvider():
            if state is not None:
                raise RuleBroken(
                    f"provider {command.provider_id} is registered already",
                    Rule.CONFLICT,
                    "provider_id",
                )
            return [
                ProviderRegistered(
                    provider_id=command.provider_id, name=command.name, kind=command.kind
                )
            ]
        case UpdateProvider():
            if command.name is None and command.kind is None:
                raise RuleBroken("nothing to update: give a name or a kind", Rule.INVALID)
            provider = _registered(command, state)
            name = command.name if command.name not in (None, provider.name) else None
            kind = command.kind if command.kind not in (None, provider.kind) else None
            if name is None and kind is None:
                return []  # the provider says so already: repeating an update changes nothing
            return [ProviderUpdated(provider_id=provider.provider_id, name=name, kind=kind)]
        case DeactivateProvider():
            provider = _registered(command, state)
            if not command.reason.strip():
                raise RuleBroken("say why the provider is deactivated", Rule.INVALID, "reason")
            return [ProviderDeactivated(provider_id=provider.provider_id, reason=command.reason)]


def evolve_provider(state: Provider | None, event: Event) -> Provider | None:
    if isinstance(event, ProviderRegistered):
        return Provider(provider_id=event.provider_id, name=event.name, kind=event.kind)
    if state is None:
        return state
    if isinstance(event, ProviderUpdated):
        return replace(
            state,
            name=event.name if event.name is not None else state.name,
            kind=event.kind if event.kind is not None else state.kind,
        )
    if isinstance(event, ProviderDeactivated):
        return replace(state, active=False, deactivation_reason=event.reason)
    return state


#: One provider's stream, ``provider-<provider_id>``; ``None`` until it is registered.
provider_decider: Decider[Provider | None, ProviderCommand] = Decider(
    initial=lambda: None, evolve=evolve_provider, decide=decide_provider
)
