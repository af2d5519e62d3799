"""Entity extraction: proposed for review (or applied by a space's policy), never a
person of a role, an agent or a token, places as places, measured on labelled
sentences, and undone through the domain layer."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.consolidation import entities
from apps.consolidation import services as consolidation
from apps.consolidation.models import Proposal
from apps.consolidation.services.proposals import ProposalError
from apps.memories import services
from apps.memories.models import Entity, Mention
from apps.spaces.models import ApiToken
from benchmarks.entity_precision import measure

# Measured on tests/fixtures/entities_labelled.jsonl (see docs/consolidation.md):
# person 0.98, place 1.00, organisation 0.89; the floors leave a margin for changes to
# the word lists, not for a regression.
PRECISION_FLOORS = {"person": 0.92, "place": 0.92, "organisation": 0.8}
RECALL_FLOORS = {"person": 0.85, "place": 0.85}


def proposals(space):
    return {
        (p.change["name"], p.change["kind"]): p
        for p in Proposal.objects.for_space(space).filter(operation="entity")
    }


def auto_apply_entities(space):
    space.settings = {"consolidation": {"auto_apply": ["entity"]}}
    space.save()


def test_it_proposes_entities_for_review_and_records_nothing(space, actor):
    lisbon, porto = services.create_memories(
        space,
        actor,
        [
            {"content": "Maya moved to Lisbon last year.", "subject": "Maya Okafor"},
            {"content": "A weekend in Lisbon and Porto.", "agent": "planner"},
        ],
    )

    report = consolidation.consolidate(space, only=["entities"])

    made = proposals(space)
    assert set(made) == {
        ("Maya Okafor", "person"),
        ("Lisbon", "place"),
        ("Porto", "place"),
        ("planner", "other"),
    }
    assert report.proposed["entities"] == 4 and "entities" not in report.applied
    assert not Entity.objects.for_space(space).exists()
    assert not Mention.objects.for_space(space).exists()
    city = made[("Lisbon", "place")]
    assert city.status == "pending" and city.operation == "entity"
    assert sorted(city.memory_ids, key=str) == sorted([lisbon.pk, porto.pk], key=str)
    assert city.memory_versions == [1, 1]
    assert sorted(city.change["mentions"], key=lambda m: m["start"]) == [
        {"memory": str(porto.pk), "start": 13, "end": 19},
        {"memory": str(lisbon.pk), "start": 14, "end": 20},
    ]
    assert city.evidence == {"reasons": ["gazetteer", "cue: 'moved to Lisbon'"], "memories": 2}
    assert city.score == pytest.approx(0.95)
    # The subject "Maya Okafor" is a person; "Maya" alone is her first name.
    maya = made[("Maya Okafor", "person")]
    assert maya.change["mentions"][0] == {"memory": str(lisbon.pk), "start": 0, "end": 4}
    # A second run finds nothing new to propose.
    assert consolidation.consolidate(space, only=["entities"]).proposed["entities"] == 0
    assert Proposal.objects.for_space(space).filter(operation="entity").count() == 4


def test_it_never_makes_a_person_of_a_role_an_agent_or_a_token(space, actor):
    ApiToken.issue(space=space, name="Nightly Sync", scopes=["memories:write"])
    services.create_memories(
        space,
        actor,
        [
            {"content": "The user asked the Assistant to call back.", "subject": "user"},
            {"content": "Nightly Sync wants the export by midnight.", "agent": "Claude"},
            {"content": "Claude said the System prompt is fine.", "subject": "assistant"},
        ],
    )

    consolidation.consolidate(space, only=["entities"])

    made = proposals(space)
    assert set(made) == {("Nightly Sync", "other"), ("Claude", "other")}
    assert "API token" in " ".join(made[("Nightly Sync", "other")].evidence["reasons"])
    assert not any(kind == "person" for _, kind in made)


def test_a_space_that_auto_applies_entities_records_them_through_the_domain_layer(space, actor):
    memory = services.create_memory(space, actor, content="Dinner with Tomás Reyes in Porto.")
    auto_apply_entities(space)

    report = consolidation.consolidate(space, only=["entities"])

    assert report.proposed["entities"] == report.applied["entities"] == 2
    assert dict(Entity.objects.for_space(space).values_list("name", "kind")) == {
        "Tomás Reyes": "person",
        "Porto": "place",
    }
    porto = Mention.objects.for_space(space).get(entity__name="Porto")
    assert (porto.memory_id, memory.content[porto.start : porto.end]) == (memory.pk, "Porto")
    assert set(Proposal.objects.for_space(space).values_list("status", flat=True)) == {"applied"}
    events = AuditEvent.objects.for_space(space)
    assert events.filter(action="entities.apply").count() == 2
    assert events.filter(action="proposal.apply").count() == 2


def test_applying_a_proposal_records_its_mentions_and_says_what_it_made(space, actor):
    first, second = services.create_memories(
        space, actor, [{"content": "Flights to Lisbon."}, {"content": "Lisbon again."}]
    )
    consolidation.consolidate(space, only=["entities"])
    (proposal,) = proposals(space).values()

    applied = consolidation.apply(proposal, actor)

    lisbon = Entity.objects.for_space(space).get()
    assert (lisbon.name, lisbon.kind) == ("Lisbon", "place")
    assert set(lisbon.memories.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert applied.status == "applied"
    assert applied.result["entity"] == str(lisbon.pk)
    assert applied.result["created_entity"] is True
    assert sorted(applied.result["mentions"]) == sorted([str(first.pk), str(second.pk)])
    with pytest.raises(ProposalError):
        consolidation.apply(proposal, actor)


def test_new_mentions_join_a_pending_proposal_or_an_applied_entity(space, actor):
    services.create_memory(space, actor, content="Flights to Lisbon and Porto.")
    consolidation.consolidate(space, only=["entities"])
    made = proposals(space)
    consolidation.apply(made[("Porto", "place")], actor)

    later = services.create_memory(space, actor, content="Back in Lisbon, then Porto.")
    report = consolidation.consolidate(space, only=["entities"])

    # Lisbon's proposal is still pending: the new memory joins it, counted once.
    assert report.proposed["entities"] == 1
    lisbon = Proposal.objects.for_space(space).get(pk=made[("Lisbon", "place")].pk)
    assert later.pk in lisbon.memory_ids and len(lisbon.memory_ids) == 2
    assert lisbon.evidence["memories"] == 2 and len(lisbon.change["mentions"]) == 2
    # Porto is an entity now: its new mention is recorded without another proposal.
    porto = Entity.objects.for_space(space).get(name="Porto")
    assert later.pk in set(porto.memories.values_list("pk", flat=True))
    assert Proposal.objects.for_space(space).filter(operation="entity").count() == 2


def test_a_rejected_entity_is_not_proposed_again(space, actor):
    services.create_memory(space, actor, content="Flights to Lisbon.")
    consolidation.consolidate(space, only=["entities"])
    (proposal,) = proposals(space).values()
    consolidation.reject(proposal, actor, reason="not worth a node")

    services.create_memory(space, actor, content="Lisbon in the rain.")
    auto_apply_entities(space)
    report = consolidation.consolidate(space, only=["entities"])

    assert report.proposed["entities"] == report.applied["entities"] == 0
    assert not Entity.objects.for_space(space).exists()
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and len(proposal.memory_ids) == 1


def test_undoing_a_proposal_takes_back_its_mentions_and_the_entity_it_made(space, actor):
    services.create_memory(space, actor, content="Flights to Lisbon.")
    consolidation.consolidate(space, only=["entities"])
    (proposal,) = proposals(space).values()
    applied = consolidation.apply(proposal, actor)

    taken = entities.undo_proposal(applied, actor)

    assert taken == {"mentions": 1, "entity_removed": True}
    assert not Entity.objects.for_space(space).exists()
    assert not Mention.objects.for_space(space).exists()
    event = AuditEvent.objects.for_space(space).get(action="entities.forget")
    assert event.summary == {"mentions": 1, "entity_removed": True}


def test_undoing_keeps_an_entity_that_was_there_before(space, actor):
    kept = services.create_memory(space, actor, content="Lunch in Porto.")
    entities.extract(space, actor)  # Porto, recorded before any proposal
    porto = Entity.objects.for_space(space).get()
    porto.kind = "other"  # as an older extractor filed it
    porto.save()
    services.create_memory(space, actor, content="Flights to Porto.")
    consolidation.consolidate(space, only=["entities"])
    # "other" is what it was, "place" what the evidence says: proposed, not recorded.
    (proposal,) = proposals(space).values()
    assert (proposal.change["kind"], len(proposal.memory_ids)) == ("place", 1)
    applied = consolidation.apply(proposal, actor)
    place = Entity.objects.for_space(space).get(kind="place")

    taken = entities.undo_proposal(applied, actor)

    assert taken == {"mentions": 1, "entity_removed": True}
    assert not Entity.objects.for_space(space).filter(pk=place.pk).exists()
    assert list(porto.memories.values_list("pk", flat=True)) == [kept.pk]


def test_undoing_leaves_mentions_the_proposal_did_not_make(space, actor):
    first = services.create_memory(space, actor, content="Flights to Lisbon.")
    consolidation.consolidate(space, only=["entities"])
    (proposal,) = proposals(space).values()
    applied = consolidation.apply(proposal, actor)
    later = services.create_memory(space, actor, content="Lisbon in the rain.")
    consolidation.consolidate(space, only=["entities"])  # recorded into the entity

    taken = entities.undo_proposal(applied, actor)

    assert taken == {"mentions": 1, "entity_removed": False}
    lisbon = Entity.objects.for_space(space).get()
    assert list(lisbon.memories.values_list("pk", flat=True)) == [later.pk]
    assert not lisbon.memories.filter(pk=first.pk).exists()


def test_a_proposal_whose_memory_changed_is_not_applied(space, actor):
    memory = services.create_memory(space, actor, content="Flights to Lisbon.")
    consolidation.consolidate(space, only=["entities"])
    (proposal,) = proposals(space).values()
    services.update_memory(
        space, actor, memory.pk, expected_version=None, content="Flights to Lisbon, booked."
    )

    with pytest.raises(ProposalError):
        consolidation.apply(proposal, actor)

    assert not Entity.objects.for_space(space).exists()
    proposal.refresh_from_db()
    assert proposal.status == "stale"


def test_a_dry_run_stores_no_proposal(space, actor):
    services.create_memory(space, actor, content="Flights to Lisbon and Porto.")
    auto_apply_entities(space)

    report = consolidation.consolidate(space, only=["entities"], dry_run=True)

    assert report.proposed["entities"] == 2 and "entities" not in report.applied
    assert not Proposal.objects.for_space(space).exists()
    assert not Entity.objects.for_space(space).exists()


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        ("Her cousin Layla lives in Dubai.", "Layla", "person"),
        ("Dr. Okafor said the scan was fine.", "Okafor", "person"),
        ("Tomás's sister runs the front of house.", "Tomás", "person"),
        ("We flew to Tavira for the weekend.", "Tavira", "place"),
        ("Dinner near Avenida da Liberdade.", "Avenida da Liberdade", "place"),
        ("St. Louis has a great zoo.", "St. Louis", "place"),
        ("The Netherlands won again.", "Netherlands", "place"),
        ("She studied at the University of Porto.", "University of Porto", "organisation"),
        ("He works at Acme GmbH now.", "Acme GmbH", "organisation"),
        # A city's name that is also a first name takes a cue to be a place.
        ("Florence said she would come.", "Florence", "person"),
        ("Then we took the train to Florence.", "Florence", "place"),
        # Unsure: "other", whatever the capital letter suggests.
        ("Migrate the notes to Obsidian.", "Obsidian", "other"),
    ],
)
def test_it_judges_a_name_by_its_words_and_the_words_around_it(text, name, kind):
    found = {n: k for n, *_, k in entities.names_in(text)}
    assert found.get(name) == kind


def test_its_precision_on_labelled_sentences_stays_above_the_floor():
    measured = measure()

    assert measured.sentences >= 90
    for kind, floor in PRECISION_FLOORS.items():
        assert measured.tallies[kind].precision >= floor, (kind, measured.errors)
    for kind, floor in RECALL_FLOORS.items():
        assert measured.tallies[kind].recall >= floor, (kind, measured.errors)
