"""The Decider pattern: pure functions from (command, state) to events and (state, event) to state.

Domain packages build on this and import nothing from web frameworks, brokers or databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from cpd_events.envelope import Event

S = TypeVar("S")
C = TypeVar("C")


class Rule(StrEnum):
    NOT_FOUND = "not_found"  # the thing the command is about does not exist
    CONFLICT = "conflict"  # the command clashes with the current state (e.g. approved twice)
    INVALID = "invalid"  # the command breaks a business rule whatever the state


class RuleBroken(Exception):
    """A command the domain refuses. No event is written."""

    def __init__(self, message: str, rule: Rule = Rule.CONFLICT, field: str | None = None):
        self.message = message
        self.rule = rule
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Decider(Generic[S, C]):
    initial: Callable[[], S]
    evolve: Callable[[S, Event], S]
    decide: Callable[[C, S], Sequence[Event]]

    def fold(self, events: Iterable[Event]) -> S:
        state = self.initial()
        for event in events:
            state = self.evolve(state, event)
        return state

    def run(self, given: Iterable[Event], command: C) -> Sequence[Event]:
        """Given past events, when a command arrives, then these events (for tests and apps)."""
        return self.decide(command, self.fold(given))
