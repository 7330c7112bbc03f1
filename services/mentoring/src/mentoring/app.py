"""The mentoring application service: load the mentor's stream, decide, append (with retries)."""

from __future__ import annotations

from cpd_events import Envelope, Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_eventstore.application import Loaded, handle, load
from cpd_eventstore.store import EventStore
from mentoring.domain import Mentor, MentorCommand, mentor_decider


def mentor_stream(trn: str) -> str:
    return f"mentor-{trn}"


async def decide(store: EventStore, command: MentorCommand, metadata: Metadata) -> list[Envelope]:
    """Every mentoring command is decided on the mentor's stream, ``mentor-<trn>``."""
    return await handle(store, mentor_stream(command.trn), mentor_decider, command, metadata)


async def mentor_of(store: EventStore, trn: str) -> Loaded[Mentor]:
    loaded = await load(store, mentor_stream(trn), mentor_decider)
    if loaded.state is None:
        raise RuleBroken(f"mentor {trn} is not registered", Rule.NOT_FOUND)
    return Loaded(loaded.stream_id, loaded.state, loaded.version)
