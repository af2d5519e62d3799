"""Raw input: episodes, and conversations stored as episodes and episodic memories."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_events
from apps.core.bulk import copy_insert
from apps.hygiene.policy import Screened, flag_rows, policy_of, screen
from apps.memories.models import (
    Episode,
    Kind,
    LinkType,
    Memory,
)
from apps.memories.services.create import create_memories
from apps.memories.services.errors import (
    ContentRefused,
    InvalidMemory,
)
from apps.memories.services.links import create_links
from apps.memories.services.records import (
    MemoryId,
)
from apps.spaces.models import Space


def record_episode(space: Space, actor: Actor, **fields: Any) -> Episode:
    """Store one raw input (content, source, session, role, speaker, agent,
    occurred_at, metadata) with its audit event."""
    return record_episodes(space, actor, [fields])[0]


@transaction.atomic
def record_episodes(space: Space, actor: Actor, items: Sequence[dict[str, Any]]) -> list[Episode]:
    """Store a batch of raw inputs in a few statements, with an event each."""
    return record_screened_episodes(space, actor, items)[0]


@transaction.atomic
def record_screened_episodes(
    space: Space, actor: Actor, items: Sequence[dict[str, Any]]
) -> tuple[list[Episode], list[Screened]]:
    """record_episodes, also giving the hygiene policy's verdict on each episode's text
    (what a memory made from the same text stores). All or nothing: a refused text
    raises ContentRefused naming its index."""
    policy = policy_of(space)
    episodes: list[Episode] = []
    screenings: list[Screened] = []
    for index, item in enumerate(items):
        content = item.get("content")
        if not isinstance(content, str) or not content.strip():
            raise InvalidMemory(
                f"item {index}: episode content must be non-empty text"
                if len(items) > 1
                else "episode content must be non-empty text",
                details={"index": index, "content": "empty"},
            )
        try:
            screened = screen(policy, content)
        except ContentRefused as exc:
            if len(items) == 1:
                raise
            raise ContentRefused(
                f"item {index}: {exc.message}", details={"index": index, **exc.details}
            ) from None
        screenings.append(screened)
        episodes.append(
            Episode(
                space=space,
                content=screened.text,
                source=item.get("source", Episode.Source.MESSAGE),
                session=item.get("session", ""),
                role=item.get("role", ""),
                speaker=item.get("speaker", ""),
                agent=item.get("agent") or (actor.token.name if actor.token else ""),
                occurred_at=item.get("occurred_at") or timezone.now(),
                metadata=item.get("metadata") or {},
            )
        )
    copy_insert(episodes)
    copy_insert(
        [
            flag
            for episode, screened in zip(episodes, screenings, strict=True)
            for flag in flag_rows(space, screened.flagged, episode.content, episode=episode)
        ]
    )
    record_events(
        space,
        actor,
        "episode.create",
        [
            (
                "episode",
                e.pk,
                {"session": e.session, "chars": len(e.content), **screened.audit_summary()},
            )
            for e, screened in zip(episodes, screenings, strict=True)
        ],
    )
    return episodes, screenings


@transaction.atomic
def remember_conversation(
    space: Space, actor: Actor, messages: Sequence[dict[str, Any]], *, remember: bool
) -> tuple[list[Episode], list[Memory]]:
    """Store conversation messages as episodes and, with `remember`, each also as an
    episodic memory derived from its episode, chained by next_in_time links.

    The chain continues from the latest episodic memory already stored for the same
    session, so a conversation sent in several requests stays one conversation.
    """
    episodes, screenings = record_screened_episodes(space, actor, messages)
    if not remember:
        return episodes, []
    memories = create_memories(
        space,
        actor,
        [
            {
                "content": episode.content,
                "kind": Kind.EPISODIC,
                "subject": episode.speaker,
                "agent": episode.agent,
                "session": episode.session,
                "occurred_at": episode.occurred_at,
                "metadata": dict(episode.metadata),
                "source_episodes": [episode.pk],
            }
            for episode in episodes
        ],
        screenings=screenings,
    )
    sessions: dict[str, list[Memory]] = {}
    for memory in memories:
        sessions.setdefault(memory.session, []).append(memory)
    edges: list[tuple[MemoryId, MemoryId, str]] = []
    new_ids = [m.pk for m in memories]
    for session, turns in sessions.items():
        turns.sort(key=lambda m: m.occurred_at or m.created_at)  # stable: ties keep order
        chain = list(turns)
        if session:
            previous = (
                Memory.objects.for_space(space)
                .filter(kind=Kind.EPISODIC, session=session, occurred_at__lte=turns[0].occurred_at)
                .exclude(pk__in=new_ids)
                .order_by("-occurred_at", "-created_at")
                .only("pk")
                .first()
            )
            if previous is not None:
                chain.insert(0, previous)
        edges += [(a.pk, b.pk, LinkType.NEXT_IN_TIME) for a, b in itertools.pairwise(chain)]
    if edges:
        create_links(space, actor, edges)
    return episodes, memories
