"""A small demo data set written for MemoryWeb: two people talking to an assistant.

Maya Okafor, a product designer training for her first marathon, and Tomás
Reyes, a chef opening a restaurant, each have a few sessions over some weeks.
Every message is an episode; the memories an agent would derive point back to
them. Maya changes her diet (a superseded fact), and a curator edits a few
memories so that versions exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Kind, LinkType, Memory
from apps.spaces.models import Membership, Role, Space

DEMO_SLUG = "demo"
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
AGENT = "assistant"


@dataclass
class Derived:
    key: str
    kind: str
    content: str
    tags: list[str] = field(default_factory=list)
    importance: float = 0.5


@dataclass
class Message:
    speaker: str
    text: str
    memories: list[Derived] = field(default_factory=list)


@dataclass
class Session:
    id: str
    subject: str
    day: int
    messages: list[Message]


SESSIONS = [
    Session(
        "maya-01",
        "Maya Okafor",
        0,
        [
            Message(
                "Maya Okafor",
                "Hi! I signed up for the Lisbon marathon in December. It's my first one.",
                [
                    Derived(
                        "maya_marathon",
                        Kind.FACT,
                        "Maya is running the Lisbon marathon in December; it is her first marathon.",
                        ["running", "goals"],
                        0.9,
                    ),
                ],
            ),
            Message(AGENT, "Congratulations! How much are you running each week at the moment?"),
            Message(
                "Maya Okafor",
                "About 30 km a week, mostly easy runs along the river before work.",
                [
                    Derived(
                        "maya_volume",
                        Kind.FACT,
                        "Maya runs about 30 km a week, mostly easy runs along the river before work.",
                        ["running"],
                        0.6,
                    ),
                ],
            ),
            Message(
                "Maya Okafor",
                "Also I'm vegetarian, so keep that in mind for any nutrition advice.",
                [
                    Derived(
                        "maya_veg",
                        Kind.PREFERENCE,
                        "Maya is vegetarian; nutrition advice must not include meat or fish.",
                        ["diet"],
                        0.8,
                    ),
                ],
            ),
        ],
    ),
    Session(
        "maya-02",
        "Maya Okafor",
        9,
        [
            Message(
                "Maya Okafor",
                "My left knee hurts after long runs over 20 km.",
                [
                    Derived(
                        "maya_knee",
                        Kind.EPISODIC,
                        "Maya's left knee hurts after long runs over 20 km.",
                        ["health", "running"],
                        0.8,
                    ),
                ],
            ),
            Message(
                AGENT,
                "Let's cap long runs at 18 km for two weeks and add strength work twice a week.",
            ),
            Message(
                "Maya Okafor",
                "Okay. I prefer workouts planned in kilometres, not miles.",
                [
                    Derived(
                        "maya_units",
                        Kind.PREFERENCE,
                        "Maya wants distances in kilometres, never miles.",
                        ["preferences"],
                        0.5,
                    ),
                ],
            ),
        ],
    ),
    Session(
        "maya-03",
        "Maya Okafor",
        23,
        [
            Message(
                "Maya Okafor",
                "Update: I've started eating fish again, my doctor suggested it for iron.",
                [
                    Derived(
                        "maya_pesc",
                        Kind.PREFERENCE,
                        "Maya eats fish again (pescatarian) on her doctor's advice for iron; no other meat.",
                        ["diet"],
                        0.8,
                    ),
                ],
            ),
            Message(
                "Maya Okafor",
                "Knee is fine now, I did 24 km on Sunday without pain.",
                [
                    Derived(
                        "maya_knee_ok",
                        Kind.EPISODIC,
                        "Maya ran 24 km without knee pain; her knee has recovered.",
                        ["health", "running"],
                        0.7,
                    ),
                ],
            ),
            Message(
                AGENT,
                "Great news. For long runs: warm up for ten minutes, then keep an easy pace for the first half.",
                [
                    Derived(
                        "maya_longrun",
                        Kind.PROCEDURAL,
                        "Maya's long-run routine: ten-minute warm-up, easy pace for the first half, then steady.",
                        ["running", "routine"],
                        0.6,
                    ),
                ],
            ),
        ],
    ),
    Session(
        "tomas-01",
        "Tomás Reyes",
        2,
        [
            Message(
                "Tomás Reyes",
                "I'm opening a small restaurant in Porto called Brasa, wood-fired cooking.",
                [
                    Derived(
                        "tomas_brasa",
                        Kind.FACT,
                        "Tomás is opening Brasa, a small wood-fired restaurant in Porto.",
                        ["restaurant", "work"],
                        0.9,
                    ),
                ],
            ),
            Message(
                "Tomás Reyes",
                "We plan to open on 15 October.",
                [
                    Derived(
                        "tomas_open_oct",
                        Kind.FACT,
                        "Brasa is planned to open on 15 October.",
                        ["restaurant", "dates"],
                        0.8,
                    ),
                ],
            ),
            Message(AGENT, "Exciting! Who are you working with?"),
            Message(
                "Tomás Reyes",
                "My sister Inês runs front of house; our supplier for fish is Mercado do Bolhão.",
                [
                    Derived(
                        "tomas_ines",
                        Kind.FACT,
                        "Inês, Tomás's sister, runs front of house at Brasa.",
                        ["people", "restaurant"],
                        0.6,
                    ),
                    Derived(
                        "tomas_supplier",
                        Kind.FACT,
                        "Brasa buys its fish from Mercado do Bolhão.",
                        ["suppliers"],
                        0.4,
                    ),
                ],
            ),
        ],
    ),
    Session(
        "tomas-02",
        "Tomás Reyes",
        16,
        [
            Message(
                "Tomás Reyes",
                "Bad news: the kitchen inspection slipped, so opening moves to 2 November.",
                [
                    Derived(
                        "tomas_open_nov",
                        Kind.FACT,
                        "Brasa's opening moved to 2 November because the kitchen inspection slipped.",
                        ["restaurant", "dates"],
                        0.8,
                    ),
                ],
            ),
            Message(
                "Tomás Reyes",
                "Please always send me prep lists as a checklist, one item per line.",
                [
                    Derived(
                        "tomas_lists",
                        Kind.PREFERENCE,
                        "Tomás wants prep lists as checklists, one item per line.",
                        ["preferences"],
                        0.5,
                    ),
                ],
            ),
        ],
    ),
    Session(
        "tomas-03",
        "Tomás Reyes",
        30,
        [
            Message(
                "Tomás Reyes",
                "Menu test tonight: grilled octopus, charred leeks with romesco, and a burnt-cheesecake.",
                [
                    Derived(
                        "tomas_menu",
                        Kind.EPISODIC,
                        "Tomás tested a menu of grilled octopus, charred leeks with romesco and burnt cheesecake.",
                        ["menu"],
                        0.6,
                    ),
                ],
            ),
            Message(
                "Tomás Reyes",
                "For the octopus: boil 40 minutes, cool in the liquid, then grill hard for 3 minutes a side.",
                [
                    Derived(
                        "tomas_octopus",
                        Kind.PROCEDURAL,
                        "Brasa's octopus: boil 40 minutes, cool in the cooking liquid, grill 3 minutes a side on high heat.",
                        ["menu", "recipe"],
                        0.7,
                    ),
                ],
            ),
        ],
    ),
]


def _load(space: Space, actor: Actor) -> None:
    memories: dict[str, Memory] = {}
    for session in SESSIONS:
        at = START + timedelta(days=session.day)
        for index, message in enumerate(session.messages):
            occurred = at + timedelta(minutes=3 * index)
            episode = services.record_episode(
                space,
                actor,
                content=message.text,
                session=session.id,
                role="assistant" if message.speaker == AGENT else "user",
                speaker=message.speaker,
                agent=AGENT,
                occurred_at=occurred,
            )
            for derived in message.memories:
                memories[derived.key] = services.create_memory(
                    space,
                    actor,
                    content=derived.content,
                    kind=derived.kind,
                    subject=session.subject,
                    agent=AGENT,
                    session=session.id,
                    tags=derived.tags,
                    importance=derived.importance,
                    occurred_at=occurred,
                    valid_from=occurred,
                    source_episodes=[episode.pk],
                )
    curator = Actor.system("demo-curator")

    # Facts that replaced older ones.
    services.supersede_memory(
        space,
        actor,
        memories["maya_veg"].pk,
        memories["maya_pesc"].pk,
        reason="Maya started eating fish again",
    )
    services.supersede_memory(
        space,
        actor,
        memories["tomas_open_oct"].pk,
        memories["tomas_open_nov"].pk,
        reason="opening date moved",
    )
    services.supersede_memory(
        space, actor, memories["maya_knee"].pk, memories["maya_knee_ok"].pk, reason="knee recovered"
    )

    # Related memories.
    for source, target, link_type in [
        ("maya_volume", "maya_marathon", LinkType.RELATED_TO),
        ("maya_longrun", "maya_marathon", LinkType.RELATED_TO),
        ("tomas_ines", "tomas_brasa", LinkType.RELATED_TO),
        ("tomas_supplier", "tomas_brasa", LinkType.RELATED_TO),
        ("tomas_octopus", "tomas_menu", LinkType.DERIVED_FROM),
        ("maya_knee_ok", "maya_knee", LinkType.NEXT_IN_TIME),
    ]:
        services.link_memories(space, actor, memories[source].pk, memories[target].pk, link_type)

    # A curator's edits, so that the version history has something to show.
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
    services.archive_memory(
        space, curator, memories["tomas_menu"].pk, reason="one-off tasting, kept for reference"
    )


def load_demo(admin_username: str | None = None) -> tuple[Space, bool]:
    """Load the demo space unless it exists; returns (space, created)."""
    from django.contrib.auth import get_user_model

    with transaction.atomic():
        space, created = Space.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={"name": "Demo", "description": "Two people and their assistant's memories."},
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
