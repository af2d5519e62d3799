"""Context vectors: a conversation memory embedded after the memory before it, and
search blending them in (apps/memories/services/embeddings.py, apps/retrieval/search.py)."""

from __future__ import annotations

import numpy as np
import pytest

from apps.memories import services
from apps.memories.models import Memory, MemoryInContext
from apps.retrieval.search import Weights, search

PLAIN = Weights(context_next=0, context_previous=0)
IN_CONTEXT = Weights(context_next=0, context_previous=0, in_context=1.0)


def chat(space, actor, *texts, session="s1"):
    _, memories = services.remember_conversation(
        space,
        actor,
        [{"content": text, "session": session, "speaker": "Maya"} for text in texts],
        remember=True,
    )
    return memories


def context_of(memory):
    return MemoryInContext.objects.for_space(memory.space).filter(memory=memory).first()


def test_it_embeds_each_turn_after_the_one_before_it(space, actor, hashing_backend, embed_now):
    first, second, third = chat(space, actor, "Did you run the marathon?", "Yes!", "Great.")

    embed_now(space)

    assert context_of(first) is None  # nothing comes before it
    assert context_of(second).previous_id == first.pk
    assert context_of(third).previous_id == second.pk
    expected = hashing_backend.embed(["Did you run the marathon?\nYes!"])[0]
    stored = np.asarray(context_of(second).embedding)
    assert np.allclose(stored, expected, atol=2e-3)  # half precision
    assert context_of(second).embedding_model == hashing_backend.name


def test_it_computes_none_when_the_weight_is_zero(
    space, actor, hashing_backend, embed_now, settings
):
    settings.SEARCH_IN_CONTEXT_WEIGHT = 0
    chat(space, actor, "Did you run the marathon?", "Yes!")

    embed_now(space)

    assert not MemoryInContext.objects.for_space(space).exists()
    assert not Memory.objects.for_space(space).pending_embedding().exists()


def test_it_reads_a_turn_again_when_the_one_before_it_changes(
    space, actor, hashing_backend, embed_now
):
    question, answer = chat(space, actor, "Did you run the marathon?", "Yes!")
    embed_now(space)

    services.update_memory(
        space, actor, question.pk, expected_version=None, content="Did you bake the cake?"
    )

    # Both vectors that read the old question are gone at once, in the edit's transaction.
    assert not MemoryInContext.objects.for_space(space).exists()
    embed_now(space)
    expected = hashing_backend.embed(["Did you bake the cake?\nYes!"])[0]
    assert np.allclose(context_of(answer).embedding, expected, atol=2e-3)


def test_it_keeps_no_vector_of_redacted_words(space, actor, hashing_backend, embed_now):
    question, answer = chat(space, actor, "Shall we meet at the Elm Street clinic?", "Yes.")
    embed_now(space)
    start = question.content.index("Elm Street")

    services.redact_memory(
        space, actor, question.pk, [(start, start + 10, "address")], reason="private"
    )

    assert context_of(answer) is None
    embed_now(space)
    redacted = Memory.objects.for_space(space).get(pk=question.pk).content
    expected = hashing_backend.embed([f"{redacted}\nYes."])[0]
    assert np.allclose(context_of(answer).embedding, expected, atol=2e-3)


def test_it_drops_a_turns_context_when_the_turn_before_it_is_purged(
    space, actor, hashing_backend, embed_now
):
    question, _answer = chat(space, actor, "Did you run the marathon?", "Yes!")
    embed_now(space)

    services.purge_memory(space, actor, question.pk, reason="asked to forget")

    assert not MemoryInContext.objects.for_space(space).exists()


def test_it_stores_no_reading_whose_texts_changed_meanwhile(
    space, actor, hashing_backend, embed_now, settings
):
    settings.SEARCH_IN_CONTEXT_WEIGHT = 0
    question, answer, thanks = chat(space, actor, "Did you run the marathon?", "Yes!", "Wow.")
    embed_now(space)
    read = services.in_context(space, [answer.pk, thanks.pk])
    # The question changes while its answer's reading is being embedded.
    services.update_memory(space, actor, question.pk, expected_version=None, content="Rain?")

    services.store_embeddings(
        space, [], [], hashing_backend.name, contexts=[(r, [0.1] * 384) for r in read]
    )

    assert context_of(answer) is None
    assert context_of(thanks).previous_id == answer.pk  # both its texts are unchanged


def test_a_revert_or_a_reembedding_drops_the_readings_of_the_old_text(
    space, actor, hashing_backend, embed_now
):
    question, answer = chat(space, actor, "Did you run the marathon?", "Yes!")
    services.update_memory(space, actor, question.pk, expected_version=None, content="Rain?")
    embed_now(space)
    assert context_of(answer) is not None

    services.revert_to_version(space, actor, question.pk, to_version=1)
    assert context_of(answer) is None

    embed_now(space)
    services.request_reembedding(space, actor, [answer.pk])
    assert context_of(answer) is None


def test_it_finds_an_answer_by_the_question_before_it(space, actor, hashing_backend, embed_now):
    (aside,) = services.create_memories(
        space, actor, [{"content": "Berlin was cold and grey all week long this winter."}]
    )
    question, answer = chat(space, actor, "Did you finish the marathon in Berlin?", "I did!")
    embed_now(space)
    query = "finish marathon Berlin"

    plain = search(space, query, mode="vector", k=3, record_access=False, weights=PLAIN)
    blended = search(space, query, mode="vector", k=3, record_access=False, weights=IN_CONTEXT)

    plain_ids = [hit.memory.pk for hit in plain.hits]
    blended_ids = [hit.memory.pk for hit in blended.hits]
    # Alone, the answer shares no word with the query; read after its question it does.
    assert plain_ids == [question.pk, aside.pk, answer.pk]
    assert blended_ids == [question.pk, answer.pk, aside.pk]
    # The blended distance keeps a cosine's scale: the question, with no context
    # vector, scores as it did alone.
    assert blended.hits[blended_ids.index(question.pk)].score == pytest.approx(
        plain.hits[plain_ids.index(question.pk)].score, abs=1e-6
    )


def test_it_reads_no_other_space_context_vectors(
    space, outsider_space, actor, hashing_backend, embed_now
):
    chat(space, actor, "Did you run the marathon?", "Yes!")
    embed_now(space)

    assert MemoryInContext.objects.for_space(space).count() == 1
    assert not MemoryInContext.objects.for_space(outsider_space).exists()


def test_it_ranks_words_by_the_turn_before_them_too(space, actor, hashing_backend, embed_now):
    (aside,) = services.create_memories(space, actor, [{"content": "Hours!"}])
    question, answer = chat(space, actor, "Did you finish the marathon in Berlin?", "Four hours.")
    embed_now(space)
    query = "marathon hours"

    plain = search(space, query, mode="text", k=3, record_access=False, weights=PLAIN)
    blended = search(space, query, mode="text", k=3, record_access=False, weights=IN_CONTEXT)

    # Alone, the shorter memory wins on the shared word; read after its question,
    # the answer holds both words.
    assert [hit.memory.pk for hit in plain.hits] == [question.pk, aside.pk, answer.pk]
    assert [hit.memory.pk for hit in blended.hits] == [answer.pk, question.pk, aside.pk]
