"""The demo space: six people talking to two agents from January to November 2026.

The data lives in `demo_data`; this module loads it through the domain services, as
an agent and a curator would have written it: every message an episode, the memories
derived from it pointing back to it, a few updates already reviewed (superseded), a
few memories edited by a curator so that versions exist, and recalls, so that some
memories are strong and the one-offs recalled once long ago have faded.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.demo_data import (
    AGENT,
    FADING,
    LINKS,
    PEOPLE,
    RECALLED,
    SESSIONS,
    SUPERSEDED,
    agent_of,
)
from apps.memories.models import Memory
from apps.spaces.models import Membership, Role, Space

DEMO_SLUG = "demo"


def _load(space: Space, actor: Actor) -> None:
    memories: dict[str, Memory] = {}
    for session in SESSIONS:
        agent = agent_of(session.subject)
        for index, message in enumerate(session.messages):
            occurred = session.started + timedelta(minutes=3 * index)
            from_agent = message.speaker == AGENT
            episode = services.record_episode(
                space,
                actor,
                content=message.text,
                session=session.id,
                role="assistant" if from_agent else "user",
                speaker=agent if from_agent else session.subject,
                agent=agent,
                occurred_at=occurred,
            )
            for derived in message.memories:
                memories[derived.key] = services.create_memory(
                    space,
                    actor,
                    content=derived.content,
                    kind=derived.kind,
                    subject=session.subject,
                    agent=agent,
                    session=session.id,
                    tags=list(derived.tags),
                    importance=derived.importance,
                    occurred_at=occurred,
                    valid_from=occurred,
                    source_episodes=[episode.pk],
                )

    for old, new, reason in SUPERSEDED:
        services.supersede_memory(space, actor, memories[old].pk, memories[new].pk, reason=reason)
    for source, target, link_type in LINKS:
        services.link_memories(space, actor, memories[source].pk, memories[target].pk, link_type)
    _recall(space, memories)
    _curate(space, memories)


def _recall(space: Space, memories: dict[str, Memory]) -> None:
    """The agents' reads: each recall adds a day of strength (MemoryBank), and
    retention decays from the last one."""

    def reader(key: str) -> Actor:
        return Actor.system(memories[key].agent or AGENT)

    for key, question in FADING.items():
        # Looked at once, the day after it was said, and never again.
        at = (memories[key].occurred_at or timezone.now()) + timedelta(days=1)
        services.record_recall(
            space, reader(key), [memories[key].pk], at=at, query=question, mode="hybrid"
        )
    now = timezone.now()
    for key, times, question in RECALLED:
        for days_ago in range(1, 4 * times, 4):
            services.record_recall(
                space,
                reader(key),
                [memories[key].pk],
                at=now - timedelta(days=days_ago),
                query=question,
                mode="hybrid",
            )


def _curate(space: Space, memories: dict[str, Memory]) -> None:
    """A curator's edits, so that the version history has something to show."""
    curator = Actor.system("demo-curator")
    marathon = memories["maya_marathon"]
    marathon = services.update_memory(
        space,
        curator,
        marathon.pk,
        expected_version=marathon.version,
        content="Maya is running the Lisbon marathon on 6 December; it is her first marathon.",
        reason="added the race date from the race website",
    )
    services.update_memory(
        space,
        curator,
        marathon.pk,
        expected_version=marathon.version,
        pinned=True,
        importance=1.0,
        reason="the season's main goal",
    )
    supplier = memories["tomas_supplier"]
    services.update_memory(
        space,
        curator,
        supplier.pk,
        expected_version=supplier.version,
        tags=["suppliers", "fish"],
        reason="tagged for the supplier review",
    )
    allergy = memories["daniel_kofi_peanuts"]
    services.update_memory(
        space,
        curator,
        allergy.pk,
        expected_version=allergy.version,
        pinned=True,
        reason="a safety fact: never let it fade",
    )
    services.archive_memory(
        space, curator, memories["tomas_menu"].pk, reason="one-off tasting, kept for reference"
    )


def load_demo(admin_username: str | None = None) -> tuple[Space, bool]:
    """Load the demo space unless it exists; returns (space, created)."""
    from django.contrib.auth import get_user_model

    with transaction.atomic():
        space, created = Space.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={
                "name": "Demo",
                "description": (
                    f"{len(PEOPLE)} people and their agents' memories, January to November 2026."
                ),
            },
        )
        if created:
            _load(space, Actor.system("load_demo"))
        if admin_username:
            user = get_user_model().objects.filter(username=admin_username).first()
            if user is not None:
                Membership.objects.get_or_create(
                    space=space, user=user, defaults={"role": Role.ADMIN}
                )
    return space, created
