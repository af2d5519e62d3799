"""A review queue that stays alive: proposals whose memories changed are re-checked
against what the memories say now (back to pending with fresh evidence, or retired
saying why), a pair of memories gets one link proposal, and a summary covers its
whole cluster without the facts a member supersedes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import propose, unit_vectors
from apps.consolidation.services.recheck import recheck_proposal, recheck_stale, staleness
from apps.consolidation.tasks import consolidate_space
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Link, Memory
from tests.conftest import events_for

CURATOR = Actor.system("curator-test")
JOB = consolidation.JOB_ACTOR.label

MAYA_RUNS = "Maya trains for the Lisbon marathon every Sunday morning by the river."
MAYA_RUNS_TOO = "Maya trains for the Lisbon marathon every Saturday morning by the river."


def left_stale(proposal: Proposal) -> Proposal:
    """Stale and not yet re-checked, as a proposal is left when the re-check after a
    refused approve could not run (the embedding backend down), or from before it."""
    Proposal.objects.for_space(proposal.space_id).filter(pk=proposal.pk).update(status="stale")
    proposal.refresh_from_db()
    return proposal


@pytest.fixture
def pair(space, actor, hashing_backend, embed_now):
    """Two memories close enough to be proposed as a link, and one unrelated."""
    first, second, other = services.create_memories(
        space,
        actor,
        [
            {"content": MAYA_RUNS},
            {"content": MAYA_RUNS_TOO},
            {"content": "The electricity bill doubled over the winter."},
        ],
    )
    embed_now(space)
    return first, second, other


def link_proposals(space):
    return list(Proposal.objects.for_space(space).filter(operation=Operation.LINK))


def test_it_proposes_one_link_per_pair_whichever_side_finds_it(space, actor, pair, embed_now):
    first, second, _other = pair

    made = consolidation.propose_links(space)

    # Each of the two finds the other; one proposal names both, in id order.
    (proposal,) = made
    source, target = sorted([str(first.pk), str(second.pk)])
    assert [str(pk) for pk in proposal.memory_ids] == [source, target]
    assert proposal.memory_versions == [1, 1]
    assert proposal.change["related_to"] == [target]
    similarity = proposal.evidence["similarities"][target]
    assert similarity >= 0.75 and proposal.score == similarity
    assert consolidation.propose_links(space) == []  # run again: nothing new

    # A newer memory like both is paired with each of them, the old pair not again.
    third = services.create_memory(
        space, actor, content="Maya trains for the Lisbon marathon every Sunday by the river."
    )
    embed_now(space)
    again = consolidation.propose_links(space)
    assert sorted(tuple(sorted(str(pk) for pk in p.memory_ids)) for p in again) == sorted(
        [tuple(sorted([str(third.pk), str(m.pk)])) for m in (first, second)]
    )
    assert len(link_proposals(space)) == 3

    # Approved, it links the first to the second, as a proposal of one source did.
    applied = consolidation.apply(proposal, CURATOR)
    link = Link.objects.for_space(space).get(pk=applied.result["links"][0])
    assert (str(link.source_id), str(link.target_id), link.type) == (source, target, "related_to")
    assert link.weight == similarity


def test_it_proposes_no_link_for_a_pair_already_linked_or_proposed_otherwise(
    space, actor, pair, embed_now
):
    first, second, _other = pair
    services.link_memories(space, actor, second.pk, first.pk, "contradicts")
    assert consolidation.propose_links(space) == []

    third, fourth = services.create_memories(
        space,
        actor,
        [
            {"content": "Tomás opens his restaurant Brasa in Porto in June this year."},
            {"content": "Tomás opens his restaurant Brasa in Porto in July this year."},
        ],
    )
    embed_now(space)
    older, newer = str(third.pk), str(fourth.pk)
    propose(
        space,
        Operation.SUPERSEDE,
        [older, newer],
        [1, 1],
        {"superseded": older, "by": newer},
        {"similarity": 0.9},
        score=0.9,
    )
    assert consolidation.propose_links(space) == []
    assert link_proposals(space) == []


def test_a_pair_an_older_one_source_proposal_named_is_not_proposed_again(space, actor, pair):
    first, second, _other = pair
    # The shape link proposals had before: one source, its targets in the change.
    older = propose(
        space,
        Operation.LINK,
        [str(first.pk)],
        [1],
        {"related_to": [str(second.pk)]},
        {"similarities": {str(second.pk): 0.9}},
        score=0.9,
    )
    assert older is not None

    assert consolidation.propose_links(space) == []  # the second is new, the pair is not

    services.update_memory(space, actor, second.pk, expected_version=1, tags=["running"])
    services.update_memory(space, actor, first.pk, expected_version=1, tags=["running"])
    recheck_stale(space)
    stored = Proposal.objects.for_space(space).get(pk=older.pk)
    assert (stored.status, stored.memory_versions) == ("pending", [2])
    assert stored.change["related_to"] == [str(second.pk)]
    assert stored.evidence["similarities"][str(second.pk)] >= 0.75


def test_a_stale_link_is_rechecked_and_proposed_again_with_fresh_evidence(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    before = dict(proposal.evidence["similarities"])
    services.update_memory(
        space,
        actor,
        first.pk,
        expected_version=1,
        content="Maya trains for the Lisbon marathon every Sunday morning along the river.",
    )
    proposal = left_stale(proposal)
    assert proposal.status == "stale"

    rechecked = recheck_proposal(proposal)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "pending" and rechecked.status == "pending"
    assert stored.status_reason == (
        "re-checked after memory “Maya trains for the Lisbon marathon…” was edited "
        "(v1 → v2: content changed): still holds"
    )
    assert stored.memory_versions == [
        Memory.objects.for_space(space).get(pk=pk).version for pk in stored.memory_ids
    ]
    assert stored.decided_at is None
    # The similarity is of the edited text (embedded for the re-check: the job has not yet).
    assert Memory.objects.for_space(space).get(pk=first.pk).embedding is None
    assert stored.evidence["similarities"] != before
    event = AuditEvent.objects.for_space(space).get(action="proposal.recheck")
    assert event.target_id == str(proposal.pk) and event.reason == stored.status_reason
    assert event.summary == {"operation": "link", "from": "stale", "to": "pending"}

    applied = consolidation.apply(stored, CURATOR)  # pending again: it can be approved
    assert applied.status == "applied" and len(applied.result["links"]) == 1


def test_a_stale_proposal_whose_memory_was_archived_is_retired_saying_why(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    services.archive_memory(space, actor, first.pk, reason="done with it")
    proposal = left_stale(proposal)

    recheck_proposal(proposal)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "retired" and stored.decided_by == JOB
    assert stored.status_reason == (
        "re-checked after memory “Maya trains for the Lisbon marathon…” was archived "
        "(v1 → v2): memory “Maya trains for the Lisbon marathon…” is archived"
    )
    assert stored.memory_versions == proposal.memory_versions  # as it was judged
    with pytest.raises(consolidation.ProposalError):
        consolidation.apply(stored, CURATOR)
    assert not Link.objects.for_space(space).exists()
    assert events_for(space, proposal.pk) == ["proposal.recheck"]


def test_a_link_no_longer_similar_is_retired(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    services.update_memory(
        space, actor, first.pk, expected_version=1, content="The boiler needs a new valve."
    )

    recheck_stale(space)  # a pending proposal whose memory changed: the same as a stale one

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "retired"
    assert stored.status_reason.startswith(
        "re-checked after memory “Maya trains for the Lisbon marathon…” was edited"
    )
    assert "no longer similar (" in stored.status_reason
    assert stored.status_reason.endswith(", below 0.75)")


def test_staleness_says_what_happened_to_each_memory(space, actor, pair):
    first, second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    assert staleness(space, proposal) == ""  # as proposed

    services.update_memory(
        space, actor, first.pk, expected_version=1, content="Maya runs.", tags=["running"]
    )
    services.delete_memory(space, actor, second.pk)

    said = staleness(space, proposal).split("; ")
    # One account per memory that changed, in the proposal's order.
    by_memory = dict(zip([str(pk) for pk in proposal.memory_ids], said, strict=True))
    assert by_memory[str(first.pk)] == (
        "Memory “Maya trains for the Lisbon marathon…” was edited "
        "(v1 → v2: content and tags changed)"
    )
    assert by_memory[str(second.pk)] == (
        "Memory “Maya trains for the Lisbon marathon…” was deleted (v1 → v2)"
    )


def test_a_proposal_that_cannot_be_judged_stays_stale_and_says_why(space, actor, pair):
    first, _second, _other = pair
    # An operation without a re-check of its own (entities name no memory text).
    proposal = propose(
        space, Operation.ENTITY, [str(first.pk)], [1], {"name": "Maya"}, {}, score=1.0
    )
    assert proposal is not None
    services.update_memory(space, actor, first.pk, expected_version=1, tags=["running"])
    Proposal.objects.for_space(space).filter(pk=proposal.pk).update(status="stale")

    counts = recheck_stale(space)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "stale"
    assert stored.status_reason == (
        "Memory “Maya trains for the Lisbon marathon…” was edited (v1 → v2: tags changed)"
    )
    assert counts == {"rechecked": 1, "pending": 0, "retired": 0, "stale": 1}
    assert not Proposal.objects.for_space(space).filter(status="stale", status_reason="").exists()


def test_a_recheck_is_idempotent(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    services.update_memory(space, actor, first.pk, expected_version=1, tags=["running"])

    assert recheck_stale(space) == {"rechecked": 1, "pending": 1, "retired": 0, "stale": 0}
    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert recheck_stale(space) == {"rechecked": 0, "pending": 0, "retired": 0, "stale": 0}
    assert recheck_proposal(stored).status_reason == stored.status_reason
    again = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert (again.status, again.evidence, again.memory_versions) == (
        "pending",
        stored.evidence,
        [2, 1] if again.memory_ids[0] == first.pk else [1, 2],
    )
    assert events_for(space, proposal.pk) == ["proposal.recheck"]


def test_a_fading_memory_pinned_since_is_not_archived(space, actor):
    fading, faded = services.create_memories(
        space, actor, [{"content": "an old detail"}, {"content": "another old detail"}]
    )
    Memory.objects.for_space(space).update(created_at=timezone.now() - timedelta(days=60))
    by_memory = {p.memory_ids[0]: p for p in consolidation.propose_forgetting(space)}
    services.update_memory(space, actor, fading.pk, expected_version=1, pinned=True)
    services.update_memory(space, actor, faded.pk, expected_version=1, tags=["kept"])

    assert recheck_stale(space) == {"rechecked": 2, "pending": 1, "retired": 1, "stale": 0}

    pinned = Proposal.objects.for_space(space).get(pk=by_memory[fading.pk].pk)
    assert pinned.status == "retired"
    assert pinned.status_reason.endswith(": memory “an old detail” is pinned")
    tagged = Proposal.objects.for_space(space).get(pk=by_memory[faded.pk].pk)
    assert tagged.status == "pending" and tagged.memory_versions == [2]
    assert tagged.evidence["retention"] < 0.05
    assert consolidation.apply(tagged, CURATOR).status == "applied"


def test_the_consolidation_run_rechecks_before_it_proposes(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    services.archive_memory(space, actor, first.pk)
    proposal = left_stale(proposal)

    report = consolidation.consolidate(space, only=["archive"])

    assert report.rechecked == {"rechecked": 1, "pending": 0, "retired": 1, "stale": 0}
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "retired"


def test_the_consolidation_job_rechecks_once(space, actor, pair):
    first, _second, _other = pair
    (proposal,) = consolidation.propose_links(space)
    services.update_memory(space, actor, first.pk, expected_version=1, tags=["running"])
    job = Job.objects.create(kind="consolidate", space=space, params={"only": ["archive", "link"]})

    consolidate_space(job.pk)

    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert (job.counts["rechecked"], job.counts["recheck_pending"]) == (1, 1)
    assert job.counts["link_proposed"] == 0
    assert AuditEvent.objects.for_space(space).filter(action="proposal.recheck").count() == 1
    assert Proposal.objects.for_space(space).get(pk=proposal.pk).status == "pending"


def test_a_recheck_leaves_another_space_alone(space, outsider_space, actor, pair, embed_now):
    first, _second = services.create_memories(
        outsider_space, actor, [{"content": MAYA_RUNS}, {"content": MAYA_RUNS_TOO}]
    )
    embed_now(outsider_space)
    (theirs,) = consolidation.propose_links(outsider_space)
    services.update_memory(outsider_space, actor, first.pk, expected_version=1, tags=["x"])
    Proposal.objects.for_space(outsider_space).filter(pk=theirs.pk).update(status="stale")
    (ours,) = consolidation.propose_links(space)

    assert recheck_stale(space) == {"rechecked": 0, "pending": 0, "retired": 0, "stale": 0}
    consolidation.consolidate(space, only=["archive"])

    stored = Proposal.objects.for_space(outsider_space).get(pk=theirs.pk)
    assert (stored.status, stored.status_reason, stored.memory_versions) == (
        "stale",
        "",
        theirs.memory_versions,
    )
    assert (
        not AuditEvent.objects.for_space(outsider_space).filter(action="proposal.recheck").exists()
    )
    assert Proposal.objects.for_space(space).get(pk=ours.pk).status == "pending"


# Summaries: real MiniLM embeddings, since what covers what is a matter of meaning.

# One topic, running (so tagged): four ways of saying the same run, a long run and the
# marathon, the odd member out that a summary of the centre would drop.
MAYA = [
    "Maya runs along the river every morning.",
    "Every morning Maya goes running along the river.",
    "Maya runs by the river each morning before work.",
    "Maya's morning run follows the river path.",
    "Maya's long run on Sundays is twenty kilometres.",
    "Maya signed up for the Lisbon marathon in October.",
]


def create_in_order(space, actor, texts, subject, tags=()):
    start = timezone.now() - timedelta(days=len(texts))
    return services.create_memories(
        space,
        actor,
        [
            {
                "content": text,
                "subject": subject,
                "tags": list(tags),
                "occurred_at": start + timedelta(days=i),
            }
            for i, text in enumerate(texts)
        ],
    )


def test_a_summary_covers_the_members_a_central_few_would_miss(space, actor, embed_now):
    created = create_in_order(space, actor, MAYA, "Maya", tags=["running"])
    embed_now(space)
    long_run, marathon = created[4], created[5]
    # What a summary of the three memories nearest the centre would have said.
    ids, unit = unit_vectors(space, {str(m.pk) for m in created})
    central = {ids[i] for i in np.argsort(-(unit @ unit.mean(axis=0)))[:3]}
    assert str(marathon.pk) not in central

    (proposal,) = consolidation.propose_summaries(space)

    assert sorted(proposal.memory_ids) == sorted(m.pk for m in created)
    sentences = proposal.change["sentences"]
    texts = [s["text"] for s in sentences]
    assert MAYA[4] in texts and MAYA[5] in texts  # the long run and the marathon
    assert len(sentences) < len(MAYA)  # four ways of saying "runs by the river": one
    assert proposal.change["content"] == " ".join(texts)
    assert texts[-2:] == [MAYA[4], MAYA[5]]  # in the order they happened
    by_text = {m.content: str(m.pk) for m in created}
    for sentence in sentences:
        assert sentence["sources"] == [by_text[sentence["text"]]]
    assert proposal.evidence["coverage"] == 1.0 and proposal.evidence["uncovered"] == []
    assert proposal.evidence["left_out"] == []
    assert (proposal.change["subject"], proposal.change["level"]) == ("Maya", 1)
    assert {str(long_run.pk), str(marathon.pk)} <= {s["sources"][0] for s in sentences}

    applied = consolidation.apply(proposal, CURATOR)
    summary = Memory.objects.for_space(space).get(pk=applied.result["summary"])
    assert summary.content == proposal.change["content"] and summary.kind == "summary"


TOMAS = [
    "Tomás opens his restaurant Brasa in Porto on June 3.",
    "Tomás hired two cooks for the kitchen at Brasa.",
    "Brasa grills sardines and octopus over charcoal.",
    "Tomás bought a charcoal grill for the restaurant.",
    "The dining room at Brasa seats forty guests.",
    "Tomás opens his restaurant Brasa in Porto on June 10.",
]


def test_a_summary_leaves_out_a_fact_another_member_supersedes(space, actor, embed_now):
    created = create_in_order(space, actor, TOMAS, "Tomás")
    embed_now(space)
    outdated, correction = created[0], created[5]
    # The supersession waits for a person: until then the summary trusts the later fact.
    propose(
        space,
        Operation.SUPERSEDE,
        [str(outdated.pk), str(correction.pk)],
        [1, 1],
        {"superseded": str(outdated.pk), "by": str(correction.pk)},
        {"similarity": 0.97},
        score=0.97,
    )

    (summary,) = consolidation.propose_summaries(space)

    assert "June 3" not in summary.change["content"]
    assert TOMAS[5] in [s["text"] for s in summary.change["sentences"]]
    assert outdated.pk not in summary.memory_ids and correction.pk in summary.memory_ids
    assert summary.evidence["left_out"] == [
        {"id": str(outdated.pk), "reason": "superseded", "by": str(correction.pk)}
    ]


def test_a_stale_summary_is_chosen_afresh_or_retired_when_its_cluster_changed(
    space, actor, embed_now
):
    created = create_in_order(space, actor, MAYA, "Maya", tags=["running"])
    embed_now(space)
    (proposal,) = consolidation.propose_summaries(space)
    marathon = created[5]
    services.update_memory(
        space,
        actor,
        marathon.pk,
        expected_version=1,
        content="Maya signed up for the Porto marathon in November.",
    )

    recheck_stale(space)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "pending", stored.status_reason
    texts = [s["text"] for s in stored.change["sentences"]]
    assert "Maya signed up for the Porto marathon in November." in texts
    assert MAYA[5] not in texts and "Lisbon" not in stored.change["content"]
    assert stored.status_reason.endswith("(v1 → v2: content changed): still holds")

    services.archive_memory(space, actor, created[4].pk)
    recheck_stale(space)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "retired"
    assert stored.status_reason.endswith(
        ": the cluster changed: memory “Maya's long run on Sundays is twenty…” is archived"
    )


def test_a_stale_summary_is_retired_when_a_member_leaves_its_topic(space, actor, embed_now):
    rides = [
        "Maya cycles to work on her bike every day.",
        "Maya's bike ride on Sunday was 60 km along the coast.",
        "Maya bought a new road bike for longer cycling trips.",
        "Maya rode her bike up the hill to the castle.",
    ]
    created = create_in_order(space, actor, rides, "Maya")
    create_in_order(space, actor, ["Maya's tax return is due in January."] * 2, "Maya")
    embed_now(space)
    (proposal,) = consolidation.propose_summaries(space)
    assert sorted(proposal.memory_ids) == sorted(m.pk for m in created)
    services.update_memory(
        space,
        actor,
        created[3].pk,
        expected_version=1,
        content="Maya's accountant files her tax return in January.",
    )

    recheck_stale(space)

    stored = Proposal.objects.for_space(space).get(pk=proposal.pk)
    assert stored.status == "retired"
    assert stored.status_reason.endswith(
        ": the cluster changed: memory “Maya's accountant files her tax return…” "
        "is no longer on the topic"
    )
