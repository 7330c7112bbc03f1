"""Operator endpoints every service has: relay status, republish, dead letters."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from cpd_events.topics import ALL_TOPICS, TOPIC_OF_SERVICE
from cpd_eventstore import list_dead_letters, republish
from cpd_eventstore.lag import PartitionLag, consumer_lag
from cpd_platform.http import MAX_PAGE_SIZE, PROBLEM_RESPONSES

if TYPE_CHECKING:
    from cpd_platform.runtime import ServiceRuntime


#: The states of a dead letter (es.dead_letters.status)
DeadLetterStatus = Literal["failed", "parked", "resolved", "discarded"]


class RelayStatus(BaseModel):
    topic: str
    leader: bool
    published: int
    lag: int = Field(description="Events stored but not yet published")
    last_error: str | None


class DeadLetterOut(BaseModel):
    id: int
    consumer: str
    status: str
    stream_id: str | None
    stream_version: int | None
    event_id: str | None
    event_type: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    error: str
    attempts: int
    payload_base64: str


class RetryOut(BaseModel):
    applied: int
    failed: int
    error: str | None


class DiscardIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class RepublishIn(BaseModel):
    from_position: int = Field(0, ge=0)


class RepublishOut(BaseModel):
    topic: str
    sent: int


class ConsumerLagOut(PartitionLag):
    group: str = Field(description="Kafka consumer group (the consumer's name)")


def install_admin_routes(app: FastAPI, runtime: ServiceRuntime) -> None:
    router = APIRouter(prefix="/admin", tags=["operations"], responses=PROBLEM_RESPONSES)

    def consumer_named(name: str) -> Any:
        for consumer in runtime.consumers.values():
            if consumer.name == name:
                return consumer
        found = runtime.more_consumers().get(name)
        if found is not None:
            return found
        raise HTTPException(404, f"no consumer {name!r} in {runtime.name}")

    @router.get("/relay", summary="Outbox relay status and lag")
    async def relay_status() -> RelayStatus:
        relay = runtime.relay
        if relay is None:
            raise HTTPException(404, f"{runtime.name} publishes no topic")
        checkpoint = await relay.checkpoint()
        return RelayStatus(
            topic=relay.topic,
            leader=relay.is_leader,
            published=checkpoint.published,
            lag=await relay.lag(),
            last_error=relay.last_error,
        )

    @router.get("/lag", summary="Consumer lag per group and partition, in events and seconds")
    async def lag(
        group: Annotated[list[str] | None, Query(description="Default: this service's")] = None,
    ) -> list[ConsumerLagOut]:
        topics_of = {
            runtime.consumers[s.name].name: s.topics
            for s in runtime.subscriptions
            if s.name in runtime.consumers
        }
        for name, consumer in runtime.more_consumers().items():
            topics_of[name] = getattr(consumer, "topics", ALL_TOPICS)
        out: list[ConsumerLagOut] = []
        for name in group or list(topics_of):
            try:
                lags = await consumer_lag(
                    runtime.settings.kafka_bootstrap_servers,
                    name,
                    topics_of.get(name, ALL_TOPICS),  # another service's group: every topic
                    within=5,
                )
            except (KafkaError, TimeoutError) as error:
                raise HTTPException(503, f"broker unavailable: {error!r}") from None
            out.extend(ConsumerLagOut(group=name, **lag.model_dump()) for lag in lags)
        return out

    @router.post("/republish", summary="Send the store to the topic again from a position")
    async def republish_store(body: RepublishIn) -> RepublishOut:
        topic = TOPIC_OF_SERVICE.get(runtime.name)
        if topic is None:
            raise HTTPException(404, f"{runtime.name} publishes no topic")
        sent = await republish(
            runtime.require_pool(),
            runtime.settings.kafka_bootstrap_servers,
            topic,
            from_position=body.from_position,
        )
        return RepublishOut(topic=topic, sent=sent)

    @router.get("/dead-letters", summary="Events consumers could not handle, and those parked")
    async def dead_letters(
        status: Annotated[
            list[DeadLetterStatus] | None, Query(description="Default: failed and parked")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE_SIZE, description="The oldest letters, at most this many")
        ] = MAX_PAGE_SIZE,
    ) -> list[DeadLetterOut]:
        letters = await list_dead_letters(
            runtime.require_pool(), None, status or ["failed", "parked"], limit=limit
        )
        return [
            DeadLetterOut(
                **{k: v for k, v in letter.__dict__.items() if k != "payload"},
                payload_base64=base64.b64encode(letter.payload).decode(),
            )
            for letter in letters
        ]

    @router.post("/dead-letters/{consumer}/{letter_id}/retry", summary="Retry after a fix")
    async def retry(consumer: str, letter_id: int) -> RetryOut:
        try:
            outcome, error = await consumer_named(consumer).retry(letter_id)
        except LookupError as missing:
            raise HTTPException(404, str(missing)) from None
        except ValueError as wrong:
            raise HTTPException(409, str(wrong)) from None
        return RetryOut(applied=outcome.applied, failed=outcome.failed, error=error)

    @router.post("/dead-letters/{consumer}/{letter_id}/discard", summary="Give up, with a reason")
    async def discard(consumer: str, letter_id: int, body: DiscardIn) -> RetryOut:
        try:
            outcome = await consumer_named(consumer).discard(letter_id, body.reason)
        except LookupError as missing:
            raise HTTPException(404, str(missing)) from None
        except ValueError as wrong:
            raise HTTPException(409, str(wrong)) from None
        return RetryOut(applied=outcome.applied, failed=outcome.failed, error=None)

    app.include_router(router)
