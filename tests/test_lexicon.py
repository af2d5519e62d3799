"""Word counts for BM25: kept in tables for large spaces, recounted in the background."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.memories import services
from apps.memories.models import Memory
from apps.retrieval import lexical
from apps.retrieval.lexical import STATS, refresh_lexicon
from apps.retrieval.models import LexemeFrequency, LexiconState
from apps.retrieval.scope import SqlScope
from apps.retrieval.search import Filters
from apps.retrieval.tasks import refresh_lexicon_task

pytestmark = pytest.mark.django_db

TEXTS = [
    "Maya runs along the river every Sunday.",
    "Maya drinks green tea after running.",
    "Tomás cooks octopus at Brasa.",
    "The river is cold in winter.",
]


@pytest.fixture
def worded_space(space, outsider_space, actor):
    for text in TEXTS:
        services.create_memory(space, actor, content=text)
    # The same words elsewhere must not count here.
    services.create_memory(outsider_space, actor, content="Maya Maya river river tea.")
    STATS.forget(space.pk)
    yield space
    STATS.forget(space.pk)


def live_count(space, lexeme):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM memories_memory WHERE space_id = %s"
            " AND search_vector @@ quote_literal(%s)::tsquery",
            [space.pk, lexeme],
        )
        return cursor.fetchone()[0]


def test_it_counts_each_word_of_the_space_once_per_memory(worded_space):
    words = refresh_lexicon(worded_space.pk)
    counts = dict(
        LexemeFrequency.objects.for_space(worded_space).values_list("lexeme", "documents")
    )
    assert words == len(counts)
    assert counts["maya"] == 2 and counts["river"] == 2 and counts["octopus"] == 1
    assert all(live_count(worded_space, lexeme) == n for lexeme, n in counts.items())
    state = LexiconState.objects.for_space(worded_space).get()
    assert state.memories == len(TEXTS)


def test_a_recount_replaces_the_old_counts(worded_space, actor):
    refresh_lexicon(worded_space.pk)
    services.create_memory(worded_space, actor, content="Octopus again, grilled.")
    refresh_lexicon_task(worded_space.pk)  # the task's body, as the worker runs it
    counts = dict(
        LexemeFrequency.objects.for_space(worded_space).values_list("lexeme", "documents")
    )
    assert counts["octopus"] == 2
    assert LexiconState.objects.for_space(worded_space).get().memories == len(TEXTS) + 1


def test_large_spaces_read_frequencies_from_the_lexicon(worded_space, monkeypatch):
    monkeypatch.setattr(lexical, "LEXICON_MIN_MEMORIES", 1)
    refresh_lexicon(worded_space.pk)
    LexemeFrequency.objects.for_space(worded_space).filter(lexeme="octopus").update(documents=3)
    STATS.forget(worded_space.pk)
    size, dfs = STATS.get(worded_space.pk, ["octopus", "maya", "neverseen"])
    assert size == len(TEXTS)
    assert dfs == {"octopus": 3, "maya": 2, "neverseen": 0}  # from the table, not live


def test_parsing_a_query_reads_its_words_counts_from_the_lexicon(worded_space, monkeypatch):
    monkeypatch.setattr(lexical, "LEXICON_MIN_MEMORIES", 1)
    refresh_lexicon(worded_space.pk)
    LexemeFrequency.objects.for_space(worded_space).filter(lexeme="octopus").update(documents=3)
    STATS.forget(worded_space.pk)
    parsed, size, dfs = STATS.parse(worded_space.pk, "Octopus for Maya, neverseen -river")
    assert parsed is not None and parsed.terms == ["octopus", "maya", "neverseen"]
    assert size == len(TEXTS)
    assert dfs == {"octopus": 3, "maya": 2, "neverseen": 0}  # from the table, not live


def test_a_query_word_the_text_parse_missed_is_still_counted(worded_space, monkeypatch):
    monkeypatch.setattr(lexical, "LEXICON_MIN_MEMORIES", 1)
    refresh_lexicon(worded_space.pk)
    STATS.forget(worded_space.pk)
    parse = lexical._parsed

    def with_an_extra_word(tsquery, required=None):
        parsed = parse(tsquery, required)
        assert parsed is not None
        parsed.terms.append("river")  # not in the query's text
        return parsed

    monkeypatch.setattr(lexical, "_parsed", with_an_extra_word)
    _parsed, _size, dfs = STATS.parse(worded_space.pk, "maya")
    assert dfs == {"maya": 2, "river": 2}


def test_small_spaces_count_at_query_time(worded_space):
    refresh_lexicon(worded_space.pk)
    LexemeFrequency.objects.for_space(worded_space).filter(lexeme="octopus").update(documents=3)
    STATS.forget(worded_space.pk)
    _size, dfs = STATS.get(worded_space.pk, ["octopus"])
    assert dfs == {"octopus": 1}


def test_a_small_space_counts_its_words_in_its_own_rows_not_the_shared_index(worded_space):
    words = ["maya", "river", "octopus", "absent"]
    with connection.cursor() as cursor:
        small = lexical._count_now(cursor, worded_space.pk, words, size=len(TEXTS))
        capped = lexical._count_now(cursor, worded_space.pk, words, size=lexical.DF_COUNT_CAP + 1)
    assert small == capped == {"maya": 2, "river": 2, "octopus": 1, "absent": 0}
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        lexical._count_now(cursor, worded_space.pk, words, size=len(TEXTS))
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + queries.captured_queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The full-text index holds every tenant's postings of a word.
    assert "memory_search_vector" not in plan


def test_an_outdated_lexicon_is_recounted_once_in_the_background(worded_space, monkeypatch):
    monkeypatch.setattr(lexical, "LEXICON_MIN_MEMORIES", 1)
    queued: list[int] = []
    monkeypatch.setattr(refresh_lexicon_task, "delay", lambda space_id: queued.append(space_id))
    cache.delete(f"lexicon-refresh:{worded_space.pk}")
    STATS.get(worded_space.pk, ["maya"])  # no lexicon yet: counted live, recount queued
    STATS.forget(worded_space.pk)
    STATS.get(worded_space.pk, ["maya"])  # the second search does not queue another
    assert queued == [worded_space.pk]


def test_the_recount_task_ignores_a_space_that_is_gone(db):
    assert refresh_lexicon_task(987654) == 0


def _plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_it_averages_the_lengths_once_even_when_the_planner_expects_no_matches(space, actor):
    # Statistics taken before the space had memories, as for any space newer than
    # the last ANALYZE: the planner expects about one matching row.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memories_memory")
    services.create_memories(
        space, actor, [{"content": f"marathon training week {i}"} for i in range(300)]
    )
    STATS.forget(space.pk)
    scope = SqlScope.of(Filters().apply(Memory.objects.for_space(space)))
    steps = lexical.bm25_steps(scope, space.pk, "marathon", 30, narrowed=False)
    assert steps is not None
    statement = f"WITH {', '.join(steps.ctes)} SELECT * FROM {steps.names[-1]}"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", steps.params)
        plan = cursor.fetchone()[0][0]["Plan"]
    aggregates = [n for n in _plan_nodes(plan) if n["Node Type"] == "Aggregate"]
    assert aggregates
    # Once per query, not once per matched row: the average ran 300 times over 300
    # rows before the norm CTE was materialized.
    assert [n["Actual Loops"] for n in aggregates] == [1] * len(aggregates)
    assert STATS.get(space.pk, ["marathon"])[1] == {"marathon": 300}


def bm25_rows(space, query, limit, filters=None, depth=None, expected_rows=None):
    """(step, id, score) of every step that ran, and the statement's EXPLAIN with the
    sequential scan discouraged (as in a large table, where the planner avoids it)."""
    filters = filters or Filters()
    scope = SqlScope.of(filters.apply(Memory.objects.for_space(space)))
    steps = lexical.bm25_steps(
        scope,
        space.pk,
        query,
        limit,
        narrowed=filters.narrows(),
        depth=depth,
        expected_rows=expected_rows,
    )
    assert steps is not None
    statement = f"WITH {', '.join(steps.ctes)} " + " UNION ALL ".join(
        f"SELECT * FROM {name}" for name in steps.names
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, steps.params)
        rows = cursor.fetchall()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}", steps.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return rows, plan


def test_it_matches_a_small_space_in_its_own_rows_not_the_shared_index(worded_space, monkeypatch):
    rows, plan = bm25_rows(worded_space, "maya river tea", 10)
    # The full-text index holds every tenant's postings of a word.
    assert "memory_search_vector" not in plan
    assert "scanned" in plan
    # Read through the index instead (as a large space is), the ranking is the same.
    monkeypatch.setattr(lexical, "ROW_SCAN_MAX", 0)
    through_index, plan = bm25_rows(worded_space, "maya river tea", 10)
    assert "scanned" not in plan
    assert lexical.widest_step(rows) == lexical.widest_step(through_index)
    assert len(lexical.widest_step(rows)) == 3


@pytest.fixture
def harbour_space(space, actor, monkeypatch):
    """120 memories with a common word, two with a rare one; a few and many of the
    common ones under their own subjects. Large, as far as BM25 is concerned."""
    monkeypatch.setattr(lexical, "ROW_SCAN_MAX", 20)
    monkeypatch.setattr(lexical, "MATCH_ROW_BUDGET", 10)
    subjects = ["few"] * 8 + ["many"] * 40 + [""] * 72
    services.create_memories(
        space,
        actor,
        [{"content": f"harbour log entry {i}", "subject": s} for i, s in enumerate(subjects)]
        + [{"content": "the lighthouse keeper wrote"} for _ in range(2)],
    )
    STATS.forget(space.pk)
    yield space
    STATS.forget(space.pk)


def ids_about(space, subject):
    memories = Memory.objects.for_space(space).filter(subject=subject)
    return {str(pk) for pk in memories.values_list("pk", flat=True)}


def test_a_filter_leaving_few_rows_widens_by_reading_them(harbour_space):
    few = ids_about(harbour_space, "few")
    rows, plan = bm25_rows(harbour_space, "lighthouse harbour", 5, Filters(subject="few"))
    # No filtered memory holds the rare word: the match widened to the common one,
    # within the 8 filtered rows (step 1 reads them; step 2 would ask the index).
    assert "scanned" in plan
    assert {step for step, _, _ in rows} == {1}
    hits = lexical.widest_step(rows)
    assert len(hits) == 5 and {pk for pk, _ in hits} <= few


def test_a_filter_leaving_many_rows_widens_through_the_index(harbour_space):
    many = ids_about(harbour_space, "many")
    rows, _plan = bm25_rows(harbour_space, "lighthouse harbour", 5, Filters(subject="many"))
    # 40 filtered rows, more than ROW_SCAN_MAX and than a fifteenth of the common
    # word's postings: the widest step asks the index.
    assert {step for step, _, _ in rows} == {2}
    hits = lexical.widest_step(rows)
    assert len(hits) == 5 and {pk for pk, _ in hits} <= many


def test_many_filtered_rows_are_read_when_the_common_words_hold_far_more(
    harbour_space, monkeypatch
):
    # As at a million memories: the widened words' postings outnumber the 40
    # filtered rows by more than reading a row costs against reading a posting.
    monkeypatch.setattr(lexical, "POSTINGS_PER_ROW_READ", 1)
    many = ids_about(harbour_space, "many")
    rows, plan = bm25_rows(harbour_space, "lighthouse harbour", 5, Filters(subject="many"))
    assert "scanned" in plan
    assert {step for step, _, _ in rows} == {1}
    assert {pk for pk, _ in lexical.widest_step(rows)} <= many


def test_an_unfiltered_large_space_matches_through_the_index(harbour_space):
    # The rare word alone finds enough: the common one is not matched at all.
    rows, plan = bm25_rows(harbour_space, "lighthouse harbour", 2)
    assert "scanned" not in plan
    assert {step for step, _, _ in rows} == {0}
    assert len(lexical.widest_step(rows)) == 2


def test_a_deeper_read_returns_more_rows_but_widens_as_for_its_limit(harbour_space):
    # Re-ordering in context reads deeper than it keeps.
    rows, _plan = bm25_rows(harbour_space, "harbour", 2, depth=6)
    assert len(lexical.widest_step(rows)) == 6
    # The two rare-word rows are enough for a limit of 2, so the common word is still
    # not matched, however deep the read.
    rows, _plan = bm25_rows(harbour_space, "lighthouse harbour", 2, depth=6)
    assert {step for step, _, _ in rows} == {0}
    assert len(lexical.widest_step(rows)) == 2


@pytest.fixture
def crane_space(harbour_space, actor):
    """harbour_space and 30 memories of a word of middle frequency, three of them under
    the subject "few"."""
    services.create_memories(
        harbour_space,
        actor,
        [{"content": f"harbour crane {i}", "subject": "few" if i < 3 else ""} for i in range(30)],
    )
    STATS.forget(harbour_space.pk)
    return harbour_space


def test_a_filter_expected_to_leave_few_rows_widens_first_to_the_rarer_words(crane_space):
    few = Memory.objects.for_space(crane_space).filter(subject="few")
    cranes = {str(pk) for pk in few.filter(content__contains="crane").values_list("pk", flat=True)}
    query, filters = "lighthouse crane harbour", Filters(subject="few")
    # Without an estimate, matching widens from the rare word to every word: all 11
    # filtered rows hold "harbour" and are scored.
    rows, _plan = bm25_rows(crane_space, query, 1, filters, depth=5)
    assert {step for step, _, _ in rows} == {1}
    everything = lexical.widest_step(rows)
    assert len(everything) == 5
    # Expected to leave 11 of 182 rows, the filter holds "crane" about once: it widens
    # to "lighthouse | crane" first, which is enough, so "harbour" alone matches nothing.
    rows, plan = bm25_rows(crane_space, query, 1, filters, depth=5, expected_rows=few.count())
    assert "scanned" in plan
    assert {step for step, _, _ in rows} == {1}
    narrower = lexical.widest_step(rows)
    assert {pk for pk, _ in narrower} == cranes
    # The same order; scores differ, lengths being averaged over the rows matched.
    assert [pk for pk, _ in narrower] == [pk for pk, _ in everything[:3]]


def test_when_the_rarer_words_are_not_enough_it_widens_to_every_word(crane_space):
    many = ids_about(crane_space, "many")
    rows, _plan = bm25_rows(
        crane_space, "lighthouse crane harbour", 1, Filters(subject="many"), expected_rows=40
    )
    # No "many" memory holds the rare or the middle word; its 40 rows are too many to
    # read (ROW_SCAN_MAX 20): the last step, every word through the index, answers.
    assert {step for step, _, _ in rows} == {3}
    assert {pk for pk, _ in lexical.widest_step(rows)} <= many
