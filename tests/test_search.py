"""The search service: modes, filters, time travel, isolation, explain, iterative scans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from pgvector.django import CosineDistance

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import vector_indexes
from apps.retrieval.search import Filters, InvalidSearch, Weights, search


@pytest.fixture
def tea_space(space, actor, hashing_backend, embed_now):
    services.create_memories(
        space,
        actor,
        [
            {
                "content": "Alice drinks green tea every morning.",
                "subject": "alice",
                "kind": "preference",
                "tags": ["drinks"],
            },
            {
                "content": "Bob repairs vintage bicycles in his garage.",
                "subject": "bob",
                "tags": ["hobby"],
            },
            {
                "content": "Alice is learning to play the cello.",
                "subject": "alice",
                "tags": ["hobby"],
            },
        ],
    )
    embed_now(space)
    return space


def contents(result):
    return [hit.memory.content for hit in result.hits]


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
def test_each_mode_finds_the_matching_memory_first(tea_space, mode):
    result = search(tea_space, "green tea morning", mode=mode, k=2, record_access=False)
    assert contents(result)[0] == "Alice drinks green tea every morning."


def test_explain_gives_each_hits_components(tea_space):
    hit = search(tea_space, "green tea", mode="hybrid", k=1, record_access=False).hits[0]
    assert set(hit.components) >= {"vector", "text", "base", "final"}
    assert hit.components["vector"]["rank"] == 1
    assert hit.components["text"]["rank"] == 1
    weights = Weights.from_settings()
    expected = weights.vector / (weights.rrf_k + 1) + weights.text / (weights.rrf_k + 1)
    assert hit.components["final"] == pytest.approx(expected, rel=1e-4)


def test_filters_narrow_the_results(tea_space):
    def found(**filters):
        result = search(
            tea_space,
            "alice bob tea bicycles cello",
            mode="hybrid",
            k=10,
            filters=Filters(**filters),
            record_access=False,
        )
        return sorted(contents(result))

    assert found(subject="bob") == ["Bob repairs vintage bicycles in his garage."]
    assert found(kinds=["preference"]) == ["Alice drinks green tea every morning."]
    assert len(found(tags=["hobby"])) == 2
    assert found(tags=["hobby"], subject="alice") == ["Alice is learning to play the cello."]
    assert found(created_after=timezone.now() + timedelta(minutes=1)) == []


def test_only_active_memories_are_found_unless_asked(tea_space, actor):
    bob = Memory.objects.for_space(tea_space).get(subject="bob")
    services.delete_memory(tea_space, actor, bob.pk)
    assert "bicycles" not in " ".join(
        contents(search(tea_space, "bicycles", k=5, record_access=False))
    )
    deleted = search(
        tea_space, "bicycles", k=5, filters=Filters(statuses=["deleted"]), record_access=False
    )
    assert contents(deleted) == ["Bob repairs vintage bicycles in his garage."]


def test_as_of_returns_what_was_true_and_known_then(space, actor, hashing_backend, embed_now):
    before_change = timezone.now()
    old = services.create_memory(
        space,
        actor,
        content="Brasa opens on 15 October.",
        valid_from=before_change - timedelta(days=10),
    )
    new = services.create_memory(
        space,
        actor,
        content="Brasa opens on 2 November.",
        valid_from=before_change + timedelta(seconds=5),
    )
    services.supersede_memory(space, actor, old.pk, new.pk)
    embed_now(space)

    then = search(
        space,
        "when does Brasa open",
        k=5,
        record_access=False,
        filters=Filters(as_of=before_change + timedelta(seconds=1)),
    )
    later = search(
        space,
        "when does Brasa open",
        k=5,
        record_access=False,
        filters=Filters(as_of=before_change + timedelta(seconds=10)),
    )
    now = search(space, "when does Brasa open", k=5, record_access=False)

    assert contents(then) == ["Brasa opens on 15 October."]
    assert contents(later) == ["Brasa opens on 2 November."]
    assert contents(now) == ["Brasa opens on 2 November."]


def test_as_of_excludes_what_was_not_yet_recorded(tea_space):
    result = search(
        tea_space,
        "tea",
        k=5,
        record_access=False,
        filters=Filters(as_of=timezone.now() - timedelta(days=1)),
    )
    assert result.hits == []


def test_search_never_returns_another_spaces_memories(tea_space, outsider_space, actor, embed_now):
    services.create_memory(outsider_space, actor, content="Alice drinks green tea every morning.")
    embed_now(outsider_space)
    for mode in ("vector", "text", "hybrid"):
        for filters in (Filters(), Filters(subject="alice"), Filters(statuses=["active"])):
            result = search(
                tea_space, "green tea", mode=mode, k=10, filters=filters, record_access=False
            )
            assert {hit.memory.space_id for hit in result.hits} == {tea_space.pk}


def test_an_empty_space_gives_a_clear_answer(space, hashing_backend):
    result = search(space, "anything at all", record_access=False)
    assert result.hits == []
    assert result.notice == "This space has no memories yet."


def test_an_empty_query_lists_recent_memories(tea_space):
    result = search(tea_space, "   ", k=2, record_access=False)
    assert len(result.hits) == 2
    assert "most recent" in result.notice


def test_a_query_of_stop_words_gives_no_text_hits_and_no_error(tea_space):
    result = search(tea_space, "the and of", mode="text", record_access=False)
    assert result.hits == []
    assert result.notice == "Nothing matched."


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "fuzzy"}, "mode"),
        ({"k": 0}, "k"),
        ({"k": 1000}, "k"),
        ({"filters": Filters(kinds=["gossip"])}, "kind"),
        ({"filters": Filters(statuses=["lost"])}, "status"),
    ],
)
def test_invalid_requests_are_refused_with_the_field_named(tea_space, kwargs, field):
    with pytest.raises(InvalidSearch) as excinfo:
        search(tea_space, "tea", record_access=False, **kwargs)
    assert field in excinfo.value.details


def test_rescoring_by_importance_reorders_results(space, actor, hashing_backend, embed_now):
    services.create_memory(space, actor, content="tea notes one", importance=0.0)
    services.create_memory(space, actor, content="tea notes two", importance=1.0)
    embed_now(space)
    plain = search(space, "tea notes", k=2, record_access=False, weights=Weights(importance=0.0))
    weighted = search(space, "tea notes", k=2, record_access=False, weights=Weights(importance=5.0))
    assert weighted.hits[0].memory.content == "tea notes two"
    assert weighted.hits[0].components["importance"] == 1.0
    assert {h.memory.content for h in plain.hits} == {h.memory.content for h in weighted.hits}


def test_a_selective_filter_still_returns_k_vector_results(
    space, hashing_backend, embed_now, settings
):
    actor = Actor.system("test")
    items = [
        {
            "content": f"note {i} about topic {i % 37} and item {i % 11}",
            "subject": "rare" if i % 100 == 0 else "common",
        }
        for i in range(2000)
    ]
    services.create_memories(space, actor, items)
    embed_now(space)
    assert vector_indexes.build_index(space.pk)  # the HNSW path, as in a large space

    rare = Filters(subject="rare")
    with connection.cursor() as cursor:
        # Make the planner use the HNSW index, as it does on a large table.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    found = search(
        space, "note about topic", mode="vector", k=10, filters=rare, record_access=False
    )
    assert len(found.hits) == 10
    assert {hit.memory.subject for hit in found.hits} == {"rare"}

    # The control: the same index scan without iteration yields far fewer than k rows.
    vector = hashing_backend.embed(["note about topic"])[0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 40")
    nearest = (
        rare.apply(Memory.objects.for_space(space))
        .filter(embedding__isnull=False, graph_pending=False)
        .defer("embedding")
        .order_by(CosineDistance("embedding", vector))[:10]
    )
    explain_plan = nearest.explain()
    plain = list(nearest)
    assert vector_indexes.index_name(space.pk) in explain_plan
    assert len(plain) < 10


def test_text_ranking_weighs_rare_words_over_common_ones(space, actor, hashing_backend):
    services.create_memories(
        space,
        actor,
        [
            {"content": "Alice said hello. Alice said hello again. Alice, Alice."},
            {"content": "Alice talked about the weather with Alice."},
            {"content": "She plays the cello on Sundays."},
        ],
    )
    result = search(space, "Alice cello", mode="text", k=3, record_access=False)
    assert contents(result)[0] == "She plays the cello on Sundays."


def test_context_expansion_follows_next_in_time_links(space, actor, hashing_backend, embed_now):
    question, answer, _unrelated = services.create_memories(
        space,
        actor,
        [
            {"content": "Melanie asked: what instrument do you play?", "session": "s1"},
            {"content": "Caroline: the violin, since I was eight.", "session": "s1"},
            {"content": "Completely separate note about gardening.", "session": "s2"},
        ],
    )
    services.create_links(space, actor, [(question.pk, answer.pk, "next_in_time")])
    embed_now(space)

    without = search(
        space,
        "what instrument do you play",
        mode="text",
        k=3,
        record_access=False,
        weights=Weights(context_next=0, context_previous=0),
    )
    with_context = search(
        space,
        "what instrument do you play",
        mode="text",
        k=3,
        record_access=False,
        weights=Weights(context_next=0.5),
    )

    assert answer.pk not in [hit.memory.pk for hit in without.hits]
    assert [hit.memory.pk for hit in with_context.hits][:2] == [question.pk, answer.pk]
    context = with_context.hits[1].components["context"]
    assert context == [
        {
            "from": str(question.pk),
            "as": "next",
            "score": pytest.approx(0.5 * with_context.hits[0].score, rel=1e-3),
        }
    ]


def test_context_expansion_respects_filters(space, actor, hashing_backend, embed_now):
    question, answer = services.create_memories(
        space,
        actor,
        [
            {"content": "what instrument do you play", "session": "s1"},
            {"content": "the violin", "session": "s1"},
        ],
    )
    services.create_links(space, actor, [(question.pk, answer.pk, "next_in_time")])
    services.delete_memory(space, actor, answer.pk)
    result = search(
        space,
        "what instrument do you play",
        mode="text",
        k=3,
        record_access=False,
        weights=Weights(context_next=0.5),
    )
    assert [hit.memory.pk for hit in result.hits] == [question.pk]


def test_text_search_widens_to_common_words_when_filters_exclude_the_rare_ones(
    space, actor, hashing_backend, monkeypatch
):
    from apps.retrieval import lexical

    monkeypatch.setattr(lexical, "MATCH_ROW_BUDGET", 0)  # rows are selected by rare words only
    services.create_memories(
        space,
        actor,
        [
            {"content": "zeppelin sighting", "subject": "other"},
            *({"content": f"weather report number {i}", "subject": "mine"} for i in range(20)),
        ],
    )
    result = search(
        space,
        "zeppelin weather",
        mode="text",
        k=1,
        record_access=False,
        filters=Filters(subject="mine"),
        weights=Weights(context_next=0, context_previous=0),
    )
    assert len(result.hits) == 1
    assert result.hits[0].memory.subject == "mine"


def test_a_hybrid_search_takes_three_queries_whatever_the_filters(
    tea_space, django_assert_num_queries
):
    from apps.retrieval import search as search_module

    search(tea_space, "green tea", mode="hybrid", record_access=False)  # caches word counts
    search_module._has_conversation_links(tea_space.pk)
    # The query's words, both candidate lists in one statement, the rows of the hits.
    for filters in (Filters(), Filters(subject="alice", tags=["drinks"])):
        with django_assert_num_queries(3):
            result = search(
                tea_space, "green tea", mode="hybrid", filters=filters, record_access=False
            )
        assert contents(result)[0] == "Alice drinks green tea every morning."


def test_with_a_lexicon_a_search_of_new_words_still_takes_three_queries(
    tea_space, django_assert_num_queries, monkeypatch
):
    from apps.retrieval import lexical
    from apps.retrieval import search as search_module

    monkeypatch.setattr(lexical, "LEXICON_MIN_MEMORIES", 1)
    lexical.refresh_lexicon(tea_space.pk)
    lexical.STATS.forget(tea_space.pk)
    search(tea_space, "anything", mode="hybrid", record_access=False)  # the space's sizes
    search_module._has_conversation_links(tea_space.pk)
    # Words no search has asked for: their counts come with the parse, not after it.
    with django_assert_num_queries(3):
        result = search(tea_space, "morning green tea", mode="hybrid", record_access=False)
    assert contents(result)[0] == "Alice drinks green tea every morning."


def test_a_scope_refuses_filters_on_another_table(tea_space):
    from apps.retrieval.scope import SqlScope

    scope = SqlScope.of(Memory.objects.for_space(tea_space).filter(subject="alice"))
    assert scope.params == (tea_space.pk, "alice")
    with pytest.raises(ValueError, match="memories table alone"):
        SqlScope.of(Memory.objects.for_space(tea_space).filter(space__slug="elsewhere"))


def text_hits(space, query):
    result = search(space, query, mode="text", k=5, record_access=False, weights=Weights())
    return [hit.memory.content for hit in result.hits]


@pytest.fixture
def art_space(space, actor, hashing_backend):
    services.create_memories(
        space,
        actor,
        [
            {"content": "I finished a self-portrait in oils."},
            {"content": "Maya paints landscapes by the sea."},
            {"content": "We read Nothing Is Impossible together."},
            {"content": "Nothing about the book was impossible to like."},
        ],
    )
    return space


def test_a_hyphenated_word_leaves_the_other_words_optional(art_space):
    # websearch_to_tsquery reads "self-portrait" as a phrase of its parts; taken for a
    # quoted phrase, it made every word required and this matched nothing.
    assert text_hits(art_space, "When did Maya paint a self-portrait?") == [
        "I finished a self-portrait in oils.",
        "Maya paints landscapes by the sea.",
    ]


def test_a_quoted_phrase_must_occur_and_plain_words_only_score(art_space):
    assert text_hits(art_space, 'the book "nothing is impossible"') == [
        "We read Nothing Is Impossible together."
    ]


def test_an_excluded_word_keeps_its_memories_out(art_space):
    assert text_hits(art_space, "nothing impossible -book") == [
        "We read Nothing Is Impossible together."
    ]
    assert text_hits(art_space, 'impossible -"nothing is impossible"') == [
        "Nothing about the book was impossible to like."
    ]
