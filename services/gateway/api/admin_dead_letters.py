"""Administrators: the dead letters of every topic (secrets redacted) and re-driving one, or
all of a topic, through `shared.dlq` (the CLI's implementation), at most
`dlq_max_redrives` times per message. The letters are read from the broker by a consumer in
no group; a re-drive goes out through the gateway's own outbox, counted in its database in
the same transaction, so the console re-drives only what the gateway may write
(`shared.contracts.access`): a letter of another service's topic is `409 redrive_not_owned`,
with the `cryptoorch dlq redrive` command that re-drives it through its owner."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from fastapi import APIRouter

from services.gateway.api.bodies import RedriveBody
from services.gateway.api.console_views import (
    DeadLetters,
    DeadLetterTopic,
    DeadLetterView,
    Redriven,
    RedriveOutcome,
)
from services.gateway.api.deps import Ctx, CurrentAdmin
from services.gateway.api.strict_json import StrictJsonRoute
from services.gateway.errors import (
    BrokerUnavailable,
    DeadLetterUnknown,
    RedriveLimitReached,
    RedriveNotOwned,
)
from shared import dlq
from shared.contracts.access import redriver_of
from shared.contracts.topics import Topic

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=StrictJsonRoute)
DLQ_TOPICS = [t.dlq for t in Topic]
NAME = "gateway"


async def _letters(ctx: Ctx, topics: list[str]) -> list[dlq.DeadLetter]:
    try:
        return await dlq.read_dead_letters(ctx.settings.kafka_access, topics)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise BrokerUnavailable(f"the dead letters cannot be read: {type(exc).__name__}") from None


@router.get("/dead-letters")
async def list_dead_letters(ctx: Ctx, _: CurrentAdmin) -> DeadLetters:
    """Every dead-letter topic with its newest parked messages, oldest first."""
    letters = await _letters(ctx, DLQ_TOPICS)
    async with ctx.pool.acquire() as conn:
        counts = await dlq.redrive_counts(
            conn, [(d.original_topic, d.original_event_id) for d in letters]
        )
    return DeadLetters(
        max_redrives=ctx.settings.dlq_max_redrives,
        topics=[
            DeadLetterTopic(
                topic=topic,
                items=[
                    DeadLetterView.of(d, counts.get((d.original_topic, d.original_event_id), 0))
                    for d in letters
                    if d.topic == topic
                ],
            )
            for topic in DLQ_TOPICS
        ],
    )


@router.post("/dead-letters/redrive")
async def redrive_dead_letters(body: RedriveBody, ctx: Ctx, principal: CurrentAdmin) -> Redriven:
    """Put one dead letter (or the newest letter of each message parked in `topic`) back on its
    topic; the consumer that parked it applies it once. One letter re-driven too often is
    `409 redrive_limit_reached`, one of a topic another service writes `409 redrive_not_owned`;
    with `all`, such letters are listed under `refused`."""
    letters = await _letters(ctx, [body.topic])
    if body.all:
        newest = {(d.original_topic, d.original_event_id): d for d in letters}
        chosen = list(newest.values())
    else:
        chosen = [d for d in letters if (d.partition, d.offset) == (body.partition, body.offset)]
        if not chosen:
            raise DeadLetterUnknown(
                f"no dead letter at {body.topic}/{body.partition}@{body.offset}"
            )
    done: list[RedriveOutcome] = []
    refused: list[RedriveOutcome] = []
    async with ctx.pool.acquire() as conn:
        for letter in chosen:
            owner = redriver_of(letter.original_topic, parked_by=NAME)
            if owner != NAME:
                parked_by = letter.consumer.rsplit(".", 1)[-1]
                why = (
                    f"{letter.original_topic} is written by {owner}, not the gateway: re-drive it "
                    f"with `cryptoorch dlq redrive --service {parked_by} --id {letter.id}`"
                )
                if not body.all:
                    raise RedriveNotOwned(why)
                outcome = RedriveOutcome(
                    id=letter.id, original_event_id=letter.original_event_id, refused=why
                )
                refused.append(outcome)
                continue
            try:
                count = await dlq.redrive(
                    conn,
                    letter.id,
                    letter.body,
                    limit=ctx.settings.dlq_max_redrives,
                    redriven_by=principal.user_id,
                    now=ctx.clock(),
                )
            except dlq.RedriveRefused as exc:
                if not body.all:
                    raise RedriveLimitReached(str(exc)) from None
                refused.append(
                    RedriveOutcome(
                        id=letter.id, original_event_id=letter.original_event_id, refused=str(exc)
                    )
                )
                continue
            done.append(
                RedriveOutcome(
                    id=letter.id, original_event_id=letter.original_event_id, redrives=count
                )
            )
    return Redriven(redriven=done, refused=refused)
