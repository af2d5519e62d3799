from dataclasses import dataclass
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.consolidation.models import Operation, Proposal
from apps.jobs.models import Job
from apps.memories.demo_data import DEMO_EXPECTATIONS, FADING, PEOPLE, contents
from apps.memories.models import Entity, Episode, Link, LinkType, Memory, MemoryVersion, Status
from apps.spaces.models import Membership, Space


def demo_counts(space):
    return {
        model.__name__: model.objects.for_space(space).count()
        for model in (Memory, MemoryVersion, Episode, Link, AuditEvent)
    }


def entity_names(space):
    """Entities recorded, or proposed when the space's policy has them reviewed first."""
    recorded = set(Entity.objects.for_space(space).values_list("name", flat=True))
    proposed = {
        p.change.get("name")
        for p in Proposal.objects.for_space(space).filter(operation=Operation.ENTITY)
    }
    return recorded | proposed


def test_load_demo_loads_people_with_history_once(db, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="pw-for-tests-1")
    out = StringIO()
    call_command("load_demo", stdout=out)
    space = Space.objects.get(slug="demo")
    first = demo_counts(space)
    first_proposals = Proposal.objects.for_space(space).count()

    memories = Memory.objects.for_space(space)
    assert set(memories.values_list("subject", flat=True)) == set(PEOPLE)
    # Two agents write and read, so per-agent views have something to tell apart.
    assert set(memories.values_list("agent", flat=True)) == {"assistant", "running-coach"}
    recalls = AuditEvent.objects.for_space(space).filter(action="memory.recall")
    labels = set(recalls.values_list("actor_label", flat=True))
    assert labels == {"system:assistant", "system:running-coach"}
    # Dated when they happened, over weeks, not when the demo was loaded.
    recall_days = {at.date() for at in recalls.values_list("created_at", flat=True)}
    assert len(recall_days) >= 10
    assert len(PEOPLE) >= 5
    assert 150 <= memories.count() <= 250
    assert memories.filter(status=Status.SUPERSEDED).exists()
    assert Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert memories.filter(version__gt=1, status=Status.ACTIVE).exists()
    assert memories.filter(pinned=True).exists()
    assert all(m.source_episodes.exists() for m in memories)
    episodes = Episode.objects.for_space(space)
    assert len(set(episodes.values_list("session", flat=True))) >= 30
    times = sorted(episodes.values_list("occurred_at", flat=True))
    assert times[-1] - times[0] > timedelta(days=180)
    assert Membership.objects.get(space=space, user=admin).role == "admin"
    # The recalls went through the access log: strong memories were read often.
    assert memories.filter(access_count__gte=3).exists()

    # Embedded and consolidated, so the review queue and the entity pages have
    # something to show; the map is the worker's job.
    assert not memories.filter(embedding__isnull=True).exists()
    assert Proposal.objects.for_space(space).filter(status="pending").exists()
    names = entity_names(space)
    assert {"Maya Okafor", "Tomás Reyes", "Mercado do Bolhão", "Lisbon", "Porto"} <= names
    assert Job.objects.filter(space=space, kind="project").count() == 1
    assert "consolidation found" in out.getvalue()

    call_command("load_demo", stdout=out)
    assert demo_counts(space) == first
    assert Proposal.objects.for_space(space).count() == first_proposals
    assert Job.objects.filter(space=space, kind="project").count() == 1
    assert Space.objects.filter(slug="demo").count() == 1
    assert "nothing loaded" in out.getvalue()


@dataclass(frozen=True)
class Pending:
    operation: str
    contents: frozenset[str]
    subjects: frozenset[str]
    superseded: str = ""
    by: str = ""


@pytest.fixture(scope="module")
def queue(django_db_setup, django_db_blocker):
    """The pending proposals the demo opens with, loaded once for this module's tests
    (loading and embedding takes seconds) and rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", stdout=StringIO())
        space = Space.objects.get(slug="demo")
        memories = {str(m.pk): m for m in Memory.objects.for_space(space)}
        pending = []
        for proposal in Proposal.objects.for_space(space).filter(status="pending"):
            members = [memories[str(pk)] for pk in proposal.memory_ids]
            superseded = by = ""
            if proposal.operation == Operation.SUPERSEDE:
                superseded = memories[proposal.change["superseded"]].content
                by = memories[proposal.change["by"]].content
            pending.append(
                Pending(
                    proposal.operation,
                    frozenset(m.content for m in members),
                    frozenset(m.subject for m in members),
                    superseded,
                    by,
                )
            )
        transaction.set_rollback(True)
    return pending


def of(queue, operation):
    return [p for p in queue if p.operation == operation]


def pairs(name, failing=(), reason=""):
    """The planted pairs of DEMO_EXPECTATIONS[name] as test parameters; those in
    `failing` are marked xfail (not strict) until the method finds them."""
    assert set(failing) <= set(DEMO_EXPECTATIONS[name]), "a marked pair that is not planted"
    text = contents()
    return [
        pytest.param(
            text[a],
            text[b],
            id=f"{a}~{b}",
            marks=[pytest.mark.xfail(strict=False, reason=reason)] if (a, b) in failing else [],
        )
        for a, b in DEMO_EXPECTATIONS[name]
    ]


def test_it_opens_the_queue_with_proposals_of_every_kind(queue):
    operations = {p.operation for p in queue}
    assert {
        Operation.MERGE,
        Operation.SUPERSEDE,
        Operation.LINK,
        Operation.SUMMARY,
        Operation.ARCHIVE,
    } <= operations


def test_it_never_merges_or_supersedes_two_subjects(queue):
    joined = of(queue, Operation.MERGE) + of(queue, Operation.SUPERSEDE)
    assert joined
    assert [p for p in joined if len(p.subjects) != 1] == []


def test_it_summarises_each_person_apart(queue):
    summaries = of(queue, Operation.SUMMARY)
    assert {subject for p in summaries for subject in p.subjects} == set(PEOPLE)
    assert [p for p in summaries if len(p.subjects) != 1] == []


def test_it_proposes_archiving_exactly_the_faded_one_offs(queue):
    text = contents()
    archived = {content for p in of(queue, Operation.ARCHIVE) for content in p.contents}
    assert archived == {text[key] for key in FADING}


# The planted pairs that the consolidation methods in the working tree still get wrong
# (their rewrite is under way): each is xfail, not strict, and drops out of its set once
# the method gets it right. Precision first: look-alikes joined that must stay apart.
LOOK_ALIKES_MERGED_NOW: set[tuple[str, str]] = set()
UPDATES_MERGED_NOW: set[tuple[str, str]] = set()
LOOK_ALIKES_SUPERSEDED_NOW: set[tuple[str, str]] = set()
# Recall: planted duplicates and updates not proposed yet.
MERGES_NOT_FOUND_YET = {("maya_home", "maya_home_again"), ("aiko_lactose", "aiko_dairy")}
SUPERSESSIONS_NOT_FOUND_YET: set[tuple[str, str]] = set()


@pytest.mark.parametrize(
    ("a", "b"),
    pairs("not_merged", LOOK_ALIKES_MERGED_NOW, "precision: the method merges this look-alike"),
)
def test_it_does_not_merge_look_alikes(queue, a, b):
    assert [p for p in of(queue, Operation.MERGE) if {a, b} <= p.contents] == []


@pytest.mark.parametrize(
    ("old", "new"),
    pairs("superseded", UPDATES_MERGED_NOW, "precision: the method merges this update"),
)
def test_it_does_not_merge_an_update_with_what_it_replaces(queue, old, new):
    # Merged, the older value would be lost instead of kept as history.
    assert [p for p in of(queue, Operation.MERGE) if {old, new} <= p.contents] == []


@pytest.mark.parametrize(
    ("a", "b"),
    pairs(
        "not_superseded",
        LOOK_ALIKES_SUPERSEDED_NOW,
        "precision: the method supersedes this look-alike or paraphrase",
    ),
)
def test_it_does_not_supersede_look_alikes_or_paraphrases(queue, a, b):
    assert [p for p in of(queue, Operation.SUPERSEDE) if {a, b} <= p.contents] == []


@pytest.mark.parametrize(
    ("a", "b"),
    pairs("merged", MERGES_NOT_FOUND_YET, "recall: the method misses this duplicate"),
)
def test_it_proposes_merging_the_planted_duplicates(queue, a, b):
    assert [p for p in of(queue, Operation.MERGE) if {a, b} <= p.contents]


@pytest.mark.parametrize(
    ("old", "new"),
    pairs(
        "superseded",
        SUPERSESSIONS_NOT_FOUND_YET,
        "recall: the method misses this update",
    ),
)
def test_it_proposes_the_planted_updates_as_supersessions(queue, old, new):
    # In a chain (15 October, 2 November, 9 November) the oldest may as well be replaced
    # by the newest; the middle one must still be replaced by the newest.
    assert [
        p
        for p in of(queue, Operation.SUPERSEDE)
        if p.superseded == old and p.by in later_in_chain(new)
    ]


def later_in_chain(content):
    """`content` and the contents of the planted updates that replace it in turn."""
    text = contents()
    after = dict(DEMO_EXPECTATIONS["superseded"])
    key = next(k for k, v in text.items() if v == content)
    found = {content}
    while key in after:
        key = after[key]
        found.add(text[key])
    return found
