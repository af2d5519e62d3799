"""Consolidation: near-duplicate merges and forgetting, proposed once, applied through
the domain layer by a person or the space's policy, remembered when rejected."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.consolidation import entities
from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.consolidation.services import summaries
from apps.consolidation.services.forgetting import FORGET_BELOW
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Entity, Link, Memory, Mention
from apps.memories.services.entities import NamedSpan, record_mentions
from apps.spaces.models import Space
from tests.test_pipeline import wait_until

CURATOR = Actor.system("curator-test")


@pytest.fixture
def duplicates(space, actor, hashing_backend, embed_now):
    same, copy, other = services.create_memories(
        space,
        actor,
        [
            {"content": "Maya likes green tea in the morning."},
            {"content": "maya likes GREEN tea in the morning!!"},
            {"content": "Tomás opens the restaurant in June."},
        ],
    )
    embed_now(space)
    return same, copy, other


def statuses(space):
    return dict(Memory.objects.for_space(space).values_list("content", "status"))


def test_it_proposes_one_merge_for_a_group_of_duplicates(space, duplicates):
    same, copy, _other = duplicates
    made = consolidation.propose_merges(space)
    assert len(made) == 1
    proposal = made[0]
    assert sorted(proposal.memory_ids, key=str) == sorted([same.pk, copy.pk], key=str)
    assert proposal.change["content"] == "maya likes GREEN tea in the morning!!"  # the longest
    assert proposal.evidence["same_text"] is True and proposal.score == 1.0
    assert proposal.memory_versions == [1, 1]
    # Nothing changed yet: a proposal is only a proposal.
    assert set(statuses(space).values()) == {"active"}
    assert consolidation.propose_merges(space) == []  # running again proposes nothing new


def test_approving_a_merge_then_undoing_it_restores_the_originals(space, duplicates, actor):
    same, copy, _ = duplicates
    proposal = consolidation.propose_merges(space)[0]
    applied = consolidation.apply(proposal, CURATOR)
    merged = Memory.objects.for_space(space).get(pk=applied.result["merged"])
    assert merged.status == "active" and merged.content == proposal.change["content"]
    for original in (same, copy):
        assert Memory.objects.for_space(space).get(pk=original.pk).status == "superseded"
    with pytest.raises(consolidation.ProposalError):
        consolidation.apply(proposal, CURATOR)  # once only

    restored = services.unmerge_memory(space, actor, merged.pk)
    assert {m.pk for m in restored} == {same.pk, copy.pk}
    for original in (same, copy):
        stored = Memory.objects.for_space(space).get(pk=original.pk)
        assert stored.status == "active" and stored.content == original.content
        assert stored.version == 3  # created, merged, restored: history kept
    assert Memory.objects.for_space(space).get(pk=merged.pk).status == "deleted"


def test_an_approver_may_edit_the_merged_text(space, duplicates):
    proposal = consolidation.propose_merges(space)[0]
    applied = consolidation.apply(proposal, CURATOR, content="Maya drinks green tea at 7.")
    merged = Memory.objects.for_space(space).get(pk=applied.result["merged"])
    assert merged.content == "Maya drinks green tea at 7."


def test_a_rejection_is_remembered(space, duplicates):
    proposal = consolidation.propose_merges(space)[0]
    consolidation.reject(proposal, CURATOR, reason="two different mornings")
    assert consolidation.propose_merges(space) == []
    stored = Proposal.objects.for_space(space).get()
    assert (stored.status, stored.decided_by) == ("rejected", CURATOR.label)


def test_a_proposal_whose_memories_changed_is_rechecked_on_approve(space, duplicates, actor):
    same, _, _ = duplicates
    proposal = consolidation.propose_merges(space)[0]
    services.update_memory(space, actor, same.pk, expected_version=1, content="Maya likes mate.")
    with pytest.raises(consolidation.ProposalError) as refused:
        consolidation.apply(proposal, CURATOR)
    # "Maya likes mate." no longer says the same: retired, and the card says why.
    stored = Proposal.objects.for_space(space).get()
    assert stored.status == "retired"
    assert "was edited (v1 → v2" in stored.status_reason
    assert stored.status_reason in refused.value.message
    assert set(statuses(space).values()) == {"active"}


def test_a_changed_proposal_that_still_holds_returns_with_fresh_versions(space, duplicates, actor):
    same, _, _ = duplicates
    proposal = consolidation.propose_merges(space)[0]
    services.update_memory(space, actor, same.pk, expected_version=1, tags=["tea"])
    with pytest.raises(consolidation.ProposalError):
        consolidation.apply(proposal, CURATOR)
    stored = Proposal.objects.for_space(space).get()
    assert stored.status == "pending"
    assert stored.status_reason.endswith("still holds")
    assert 2 in stored.memory_versions
    consolidation.apply(stored, CURATOR)  # approving again now works
    assert Proposal.objects.for_space(space).get().status == "applied"


def test_fading_memories_are_proposed_for_archiving_but_never_pinned_ones(space, actor):
    old = timezone.now() - timedelta(days=60)
    fading, pinned, summary, _fresh = services.create_memories(
        space,
        actor,
        [
            {"content": "an old detail"},
            {"content": "an old but pinned fact", "pinned": True},
            {"content": "an old summary", "kind": "summary"},
            {"content": "a new detail"},
        ],
    )
    Memory.objects.for_space(space).filter(pk__in=[fading.pk, pinned.pk, summary.pk]).update(
        created_at=old
    )
    made = consolidation.propose_forgetting(space)
    assert [p.memory_ids for p in made] == [[fading.pk]]
    assert made[0].evidence["retention"] < FORGET_BELOW
    assert consolidation.propose_forgetting(space) == []


def test_the_policy_applies_only_the_operations_it_lists(space, actor, duplicates):
    space.settings = {"consolidation": {"auto_apply": ["archive"]}}
    space.save()
    fading = services.create_memory(space, actor, content="an old detail")
    Memory.objects.for_space(space).filter(pk=fading.pk).update(
        created_at=timezone.now() - timedelta(days=90)
    )
    report = consolidation.consolidate(space)
    assert (report.proposed["merge"], report.proposed["archive"]) == (1, 1)
    assert report.applied["archive"] == 1
    assert "merge" not in report.applied and "link" not in report.applied
    assert Memory.objects.for_space(space).get(pk=fading.pk).status == "archived"
    merge = Proposal.objects.for_space(space).get(operation="merge")
    assert merge.status == "pending"


def test_a_dry_run_stores_nothing(space, duplicates):
    out = StringIO()
    call_command("consolidate", "--space", space.slug, "--dry-run", stdout=out)
    assert "merge: would propose 1" in out.getvalue()
    assert not Proposal.objects.for_space(space).exists()
    call_command("consolidate", "--space", space.slug, "--only", "merge", stdout=out)
    assert "merge: proposed 1" in out.getvalue()
    assert Proposal.objects.for_space(space).count() == 1


@pytest.mark.slow
def test_the_worker_runs_consolidation_and_a_rerun_adds_no_duplicates(
    transactional_db, celery_worker_process, actor, settings
):
    from apps.retrieval.tasks import embed_all_pending

    space = Space.objects.create(slug="sleepy", name="Sleepy")
    services.create_memories(
        space, actor, [{"content": "Maya likes tea."}, {"content": "Maya likes tea"}]
    )
    embed_all_pending(space)
    # A first run that stopped after its first operation...
    consolidation.consolidate(space, only=["merge"])
    # ...and the whole job afterwards, in the worker.
    job = consolidation.start_consolidation(space)
    wait_until(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), timeout=120)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.counts["merge_proposed"] == 0  # already proposed by the first run
    assert Proposal.objects.for_space(space).filter(operation="merge").count() == 1


def test_related_memories_are_proposed_as_links_incrementally(space, actor, embed_now):
    run_a, run_b, cook, bills = services.create_memories(
        space,
        actor,
        [
            {"content": "Maya is training for the Lisbon marathon in October."},
            {"content": "Maya runs a long training run for her marathon every Sunday."},
            {"content": "Tomás braised the short ribs in red wine."},
            {"content": "The electricity bill doubled over the winter."},
        ],
    )
    embed_now(space)  # real MiniLM embeddings: relatedness is meaning
    # Each run finds the other: one proposal for the pair, its memories in id order.
    (made,) = consolidation.propose_links(space, threshold=0.5)
    source, target = sorted([str(run_a.pk), str(run_b.pk)])
    assert [str(pk) for pk in made.memory_ids] == [source, target]
    assert made.change["related_to"] == [target]
    assert consolidation.propose_links(space, threshold=0.5) == []  # considered already

    later = services.create_memory(space, actor, content="Maya ran twenty miles for the marathon.")
    embed_now(space)
    again = consolidation.propose_links(space, threshold=0.5)
    assert {frozenset(p.memory_ids) for p in again} == {
        frozenset((later.pk, run_a.pk)),
        frozenset((later.pk, run_b.pk)),
    }

    applied = consolidation.apply(made, CURATOR)
    link = Link.objects.for_space(space).get(pk=applied.result["links"][0])
    assert (str(link.source_id), str(link.target_id), link.type) == (source, target, "related_to")
    assert link.weight == made.evidence["similarities"][target]
    linked = {cook.pk, bills.pk}
    assert not Link.objects.for_space(space).filter(source_id__in=linked).exists()
    assert not Link.objects.for_space(space).filter(target_id__in=linked).exists()


def test_names_are_found_without_a_model():
    found = {
        name
        for name, *_ in entities.names_in(
            "Maya met Tomás Reyes at the Lisbon marathon. She loved it! #running #fitness"
        )
    }
    # A capital at the start of a sentence says nothing by itself ("She"), unless the
    # word is a known first name ("Maya") or place.
    assert {"Maya", "Tomás Reyes", "Lisbon", "running", "fitness"} <= found
    assert "She" not in found


def test_names_keep_their_particles_and_lose_the_possessive():
    text = (
        "We met Inês at Mercado do Bolhão; then Tomás's sister drove to "
        "Ludwig van Beethoven's house."
    )
    spans = entities.names_in(text)
    assert {name for name, *_ in spans} == {
        "Inês",
        "Mercado do Bolhão",
        "Tomás",
        "Ludwig van Beethoven",
    }
    # Each span is where the name stands in the text, without the "'s".
    assert all(text[start:end] == name for name, start, end, _ in spans)


def test_entities_join_memories_that_mention_the_same_name(space, actor):
    first, second, _ = services.create_memories(
        space,
        actor,
        [
            {"content": "Dinner with Tomás Reyes in Porto.", "subject": "Maya"},
            {"content": "Maya said Tomás Reyes opens in June.", "agent": "planner"},
            {"content": "it rained all day"},
        ],
    )
    space.settings = {"consolidation": {"auto_apply": ["entity"]}}
    space.save()
    report = consolidation.consolidate(space, only=["entities"])
    names = dict(Entity.objects.for_space(space).values_list("name", "kind"))
    assert names["Tomás Reyes"] == "person" and names["Maya"] == "person"
    # Places are places; the agent writing the memories is never a person.
    assert names["Porto"] == "place" and names["planner"] == "other"
    tomas = Entity.objects.for_space(space).get(name="Tomás Reyes")
    assert set(tomas.memories.values_list("pk", flat=True)) == {first.pk, second.pk}
    maya = Entity.objects.for_space(space).get(name="Maya")
    assert set(maya.memories.values_list("pk", flat=True)) == {first.pk, second.pk}
    # One proposal per entity, applied by the space's policy.
    assert report.proposed["entities"] == report.applied["entities"] == len(names) == 4
    assert consolidation.consolidate(space, only=["entities"]).proposed["entities"] == 0


def test_extraction_writes_through_the_domain_layer_with_one_event_naming_no_one(space, actor):
    services.create_memory(
        space, actor, content="Dinner with Tomás Reyes in Porto.", subject="Maya"
    )

    made = entities.extract(space, actor)

    assert made == Mention.objects.for_space(space).count() == 3
    (event,) = AuditEvent.objects.for_space(space).filter(action="entities.extract")
    # The names are the memories' words: a purge must not have to find them here.
    assert event.summary == {"mentions": 3, "entities": 3, "memories": 1}
    assert entities.extract(space, actor) == 0
    assert AuditEvent.objects.for_space(space).filter(action="entities.extract").count() == 1


def test_a_mention_recorded_twice_is_kept_once(space, actor):
    memory = services.create_memory(space, actor, content="Dinner with Tomás Reyes.")
    span = NamedSpan(memory.pk, "Tomás Reyes", Entity.EntityKind.OTHER, start=12, end=23)

    assert record_mentions(space, actor, [span, span]) == 1
    assert record_mentions(space, actor, [span]) == 0

    (mention,) = Mention.objects.for_space(space)
    assert (mention.entity.name, mention.memory_id, mention.start) == ("Tomás Reyes", memory.pk, 12)


def test_a_name_given_as_a_person_is_that_person_wherever_it_appears(space, actor):
    memory = services.create_memory(space, actor, content="Inês met Maya.")
    record_mentions(
        space,
        actor,
        [
            NamedSpan(memory.pk, "Maya", Entity.EntityKind.OTHER, start=9, end=13),
            NamedSpan(memory.pk, "maya", Entity.EntityKind.PERSON),
        ],
    )

    (maya,) = Entity.objects.for_space(space)
    assert (maya.name, maya.kind) == ("Maya", "person")
    assert maya.mentions.get().start == 9


def test_a_first_name_alone_is_the_one_person_who_has_it(space, actor):
    opens, sister, shared, _ = services.create_memories(
        space,
        actor,
        [
            {"content": "Tomás is opening Brasa in Porto.", "subject": "Tomás Reyes"},
            {"content": "Inês, Tomás's sister, runs front of house.", "subject": "Inês"},
            {"content": "Ana met Ana at the market.", "subject": "Ana Lima"},
            {"content": "Ana Costa sells fish.", "subject": "Ana Costa"},
        ],
    )
    entities.extract(space, actor)
    names = dict(Entity.objects.for_space(space).values_list("name", "kind"))
    assert "Tomás" not in names and names["Tomás Reyes"] == "person"
    tomas = Entity.objects.for_space(space).get(name="Tomás Reyes")
    # At a sentence start and in a possessive alike, where the name stands.
    assert set(tomas.memories.values_list("pk", flat=True)) == {opens.pk, sister.pk}
    mention = Mention.objects.for_space(space).get(entity=tomas, memory=sister)
    assert sister.content[mention.start : mention.end] == "Tomás"
    # Two people named Ana: "Ana" alone is neither of them.
    ana_lima = Entity.objects.for_space(space).get(name="Ana Lima")
    assert set(ana_lima.memories.values_list("pk", flat=True)) == {shared.pk}
    assert (
        not Mention.objects.for_space(space)
        .filter(entity__name="Ana Costa", memory=shared)
        .exists()
    )


def test_a_changed_value_proposes_that_the_later_fact_supersedes_the_earlier(
    space, actor, embed_now
):
    day = timezone.now() - timedelta(days=30)
    older, newer, unrelated, *_ = services.create_memories(
        space,
        actor,
        [
            {"content": "Maya's marathon is on October 11.", "subject": "Maya", "occurred_at": day},
            {
                "content": "Maya's marathon is on October 18.",
                "subject": "Maya",
                "occurred_at": day + timedelta(days=5),
            },
            {"content": "Maya's marathon is on October 11.", "subject": "Tomás"},
            # Events: a later one does not make an earlier one untrue.
            {"content": "Maya ran 10 km today.", "subject": "Maya", "kind": "episodic"},
            {
                "content": "Maya ran 12 km today.",
                "subject": "Maya",
                "kind": "episodic",
                "occurred_at": day,
            },
        ],
    )
    embed_now(space)  # real MiniLM embeddings
    # Nearly the same words, a different date: never proposed as a merge.
    for merge in consolidation.propose_merges(space):
        assert not {older.pk, newer.pk} <= set(merge.memory_ids)
    made = consolidation.propose_supersessions(space)
    assert [(p.change["superseded"], p.change["by"]) for p in made] == [
        (str(older.pk), str(newer.pk))
    ]
    # The differing value, with where it stands in each text for the card to mark.
    assert made[0].evidence["differs"] == [
        {
            "kind": "when",
            "before": [{"kind": "date", "text": "October 11", "span": [22, 32]}],
            "after": [{"kind": "date", "text": "October 18", "span": [22, 32]}],
        }
    ]
    assert consolidation.propose_supersessions(space) == []
    consolidation.apply(made[0], CURATOR)
    stored = Memory.objects.for_space(space).get(pk=older.pk)
    assert stored.status == "superseded" and stored.valid_to == newer.occurred_at
    assert Memory.objects.for_space(space).get(pk=unrelated.pk).status == "active"


def test_values_that_differ_are_named():
    assert consolidation.differing_values("I like tea.", "I like tea.") == {}
    assert "negation" in consolidation.differing_values(
        "Maya eats meat.", "Maya does not eat meat."
    )
    names = consolidation.differing_values("She lives in Lisbon now.", "She lives in Porto now.")
    assert names["names"] == {"before": ["Lisbon"], "after": ["Porto"]}


def test_a_subjects_topics_get_extractive_summaries(space, actor, embed_now):
    from tests.test_maps import TOPICS

    rows = [
        {"content": text, "subject": "Maya", "tags": [topic]}
        for topic in ("running", "cooking")
        for text in TOPICS[topic][:6]
    ]
    rows += [{"content": "Tomás likes octopus.", "subject": "Tomás"}]
    created = services.create_memories(space, actor, rows)
    embed_now(space)
    made = consolidation.propose_summaries(space)
    tags = {str(m.pk): m.tags[0] for m in created if m.tags}
    assert len(made) >= 2
    for proposal in made:
        topics = {tags[str(pk)] for pk in proposal.memory_ids}
        assert len(topics) == 1, topics  # one topic per summary
        assert proposal.change["subject"] == "Maya" and proposal.change["level"] == 1
        # Extractive: every sentence of the summary is one of its members.
        members = {m.content for m in created if m.pk in set(proposal.memory_ids)}
        remaining = proposal.change["content"]
        for text in members:
            remaining = remaining.replace(text, "")
        assert proposal.change["content"] and not remaining.strip()
        # Each sentence names the members it came from, among the summary's own.
        by_pk = {str(m.pk): m.content for m in created}
        for sentence in proposal.change["sentences"]:
            assert sentence["sources"]
            assert set(sentence["sources"]) <= {str(pk) for pk in proposal.memory_ids}
            assert all(sentence["text"] in by_pk[pk] for pk in sentence["sources"])
    assert consolidation.propose_summaries(space) == []

    applied = consolidation.apply(made[0], CURATOR)
    summary = Memory.objects.for_space(space).get(pk=applied.result["summary"])
    assert summary.kind == "summary" and summary.metadata["level"] == 1
    derived = set(
        Link.objects.for_space(space)
        .filter(source_id=summary.pk, type="derived_from")
        .values_list("target_id", flat=True)
    )
    assert derived == set(made[0].memory_ids)
    assert set(Memory.objects.for_space(space).values_list("status", flat=True)) == {"active"}


def test_two_topics_of_one_person_get_two_summaries(space, actor, embed_now):
    # Every memory names her in full: compared with the name in, the six are one
    # cluster; without it, they are what she cooks and how she rides.
    cooking = [
        "Maya Okafor cooked a Thai green curry for dinner.",
        "Maya Okafor cooked a mushroom risotto for dinner on Friday.",
        "Maya Okafor cooked lasagne for dinner with friends.",
    ]
    cycling = [
        "Maya Okafor cycles to work on her bike every day.",
        "Maya Okafor's bike ride on Sunday was 60 km along the coast.",
        "Maya Okafor bought a new road bike for longer cycling trips.",
    ]
    created = services.create_memories(
        space, actor, [{"content": text, "subject": "Maya Okafor"} for text in cooking + cycling]
    )
    embed_now(space)

    made = consolidation.propose_summaries(space)

    by_text = {m.content: m.pk for m in created}
    assert sorted(sorted(p.memory_ids) for p in made) == sorted(
        sorted(by_text[text] for text in topic) for topic in (cooking, cycling)
    )
    for proposal in made:
        assert proposal.change["subject"] == "Maya Okafor"
        assert proposal.evidence["cohesion"] >= summaries.SUMMARY_MIN_COHESION
        assert proposal.evidence["coverage"] == 1.0


def test_a_subjects_name_is_left_out_of_what_is_compared():
    assert summaries.without_subject("Maya's flat is in Lisbon.", "Maya Okafor") == (
        "flat is in Lisbon."
    )
    brother = "Chidi, Maya Okafor\u2019s brother, cooks."  # a typographic apostrophe
    assert summaries.without_subject(brother, "Maya Okafor") == "Chidi, brother, cooks."
    # Only the name as written: "may" the word stays.
    assert summaries.without_subject("Ms Okafor may call.", "May Okafor") == "Ms may call."
    assert summaries.without_subject("Maya.", "Maya") == "Maya."  # nothing else left


def test_digits_inside_words_are_not_values():
    assert consolidation.differing_values("Code w12 is active.", "Code w13 is active.") == {}
    assert "numbers" in consolidation.differing_values("Room 2 is booked.", "Room 3 is booked.")
