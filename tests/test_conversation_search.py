"""Session and subject awareness in search (apps/retrieval/search.py)."""

from __future__ import annotations

from apps.memories import services
from apps.retrieval.search import Weights, _named_subjects, search

PLAIN = Weights(context_next=0, context_previous=0)


def ids(result):
    return [hit.memory.pk for hit in result.hits]


def test_it_lifts_the_turns_of_the_session_the_question_is_about(space, actor, hashing_backend):
    recital, lesson, other = services.create_memories(
        space,
        actor,
        [
            {"content": "The violin recital is tonight, I am nervous.", "session": "s1"},
            {"content": "Before that I had a long lesson with my teacher.", "session": "s1"},
            {"content": "A lesson about roses.", "session": "s2"},
        ],
    )
    services.create_links(space, actor, [(recital.pk, lesson.pk, "next_in_time")])
    query = "violin lesson"

    without = search(space, query, mode="text", k=3, record_access=False, weights=PLAIN)
    weights = Weights(context_next=0, context_previous=0, session=0.5)
    with_session = search(space, query, mode="text", k=3, record_access=False, weights=weights)

    # The short turn of the other session wins on BM25 alone; the session's strong
    # turn lifts its neighbour above it.
    assert ids(without) == [recital.pk, other.pk, lesson.pk]
    assert ids(with_session) == [recital.pk, lesson.pk, other.pk]
    assert with_session.hits[1].components["session"]["name"] == "s1"


def test_it_lifts_memories_about_the_person_the_query_names(space, actor, hashing_backend):
    alice, bob = services.create_memories(
        space,
        actor,
        [
            {"content": "Went hiking on Saturday.", "subject": "Alice", "session": "s1"},
            {"content": "Went hiking in the hills on Saturday.", "subject": "Bob", "session": "s1"},
        ],
    )
    services.create_links(space, actor, [(alice.pk, bob.pk, "next_in_time")])
    query = "when did bob go hiking"

    without = search(space, query, mode="text", k=2, record_access=False, weights=PLAIN)
    weights = Weights(context_next=0, context_previous=0, subject=0.5)
    with_subject = search(space, query, mode="text", k=2, record_access=False, weights=weights)

    assert ids(without) == [alice.pk, bob.pk]
    assert ids(with_subject) == [bob.pk, alice.pk]
    assert with_subject.hits[0].components["subject"]["name"] == "Bob"
    assert "subject" not in with_subject.hits[1].components


def test_it_leaves_spaces_without_conversations_alone(space, actor, hashing_backend):
    services.create_memories(
        space,
        actor,
        [{"content": "Went hiking on Saturday.", "subject": "Bob", "session": "s1"}],
    )
    weights = Weights(context_next=0, context_previous=0, session=0.5, subject=0.5)
    result = search(space, "bob hiking", mode="text", k=1, record_access=False, weights=weights)
    assert set(result.hits[0].components) == {"text", "base", "final"}


def test_it_matches_a_subject_only_as_a_whole_word():
    subjects = {"Bob", "Ann", "Mary Jane"}
    assert _named_subjects("What did BOB's sister and mary jane say?", subjects) == {
        "Bob",
        "Mary Jane",
    }
    assert _named_subjects("Bobby annoyed Annie", subjects) == set()
