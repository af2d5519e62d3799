from io import StringIO

from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.consolidation.models import Proposal
from apps.jobs.models import Job
from apps.memories.models import Entity, Episode, Link, LinkType, Memory, MemoryVersion, Status
from apps.spaces.models import Membership, Space


def demo_counts(space):
    return {
        model.__name__: model.objects.for_space(space).count()
        for model in (Memory, MemoryVersion, Episode, Link, AuditEvent)
    }


def test_load_demo_loads_two_people_with_history_once(db, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="pw-for-tests-1")
    out = StringIO()
    call_command("load_demo", stdout=out)
    space = Space.objects.get(slug="demo")
    first = demo_counts(space)
    first_proposals = Proposal.objects.for_space(space).count()

    memories = Memory.objects.for_space(space)
    assert set(memories.values_list("subject", flat=True)) == {"Maya Okafor", "Tomás Reyes"}
    assert memories.filter(status=Status.SUPERSEDED).exists()
    assert Link.objects.for_space(space).filter(type=LinkType.SUPERSEDES).exists()
    assert memories.filter(version__gt=1, status=Status.ACTIVE).exists()
    assert all(m.source_episodes.exists() for m in memories)
    assert len(set(Episode.objects.for_space(space).values_list("session", flat=True))) >= 6
    assert Membership.objects.get(space=space, user=admin).role == "admin"

    # Embedded and consolidated, so the review queue and the entity pages have
    # something to show; the map is the worker's job.
    assert not memories.filter(embedding__isnull=True).exists()
    assert Proposal.objects.for_space(space).filter(status="pending").exists()
    names = set(Entity.objects.for_space(space).values_list("name", flat=True))
    assert {"Maya Okafor", "Tomás Reyes", "Mercado do Bolhão", "Lisbon"} <= names
    assert Job.objects.filter(space=space, kind="project").count() == 1
    assert "consolidation found" in out.getvalue()

    call_command("load_demo", stdout=out)
    assert demo_counts(space) == first
    assert Proposal.objects.for_space(space).count() == first_proposals
    assert Job.objects.filter(space=space, kind="project").count() == 1
    assert Space.objects.filter(slug="demo").count() == 1
    assert "nothing loaded" in out.getvalue()
