"""Full-text ranking with BM25 over Postgres' generated tsvector.

Postgres' own ts_rank ignores how rare a word is, so in a conversation where a
speaker's name starts every memory, the name outweighs the word that matters.
BM25 weighs each query word by its inverse document frequency in the space. Large
spaces keep those frequencies in lexicon tables, recounted in the background (they
drift slowly) and read with the query's parse; small spaces count them from the GIN
index and cache them per process for a few minutes. The scoring runs in one SQL
statement over the rows that match the rarer query words: found through the GIN
index in large spaces, by reading and testing the space's own rows in small ones
(whose postings in the shared index would cost more than the rows themselves).

On LoCoMo this alone lifts text recall@10 from 54.5 (ts_rank) to 63.6.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from apps.memories.models import TEXT_SEARCH_CONFIG
from apps.retrieval.scope import TABLE, SqlScope, column

K1 = 1.2
B = 0.5
# Rows are selected by the rarest query words, up to about this many rows (all the
# words still score): common words are nearly worthless for ranking, and matching on
# them would make BM25 score most of a large space on every query.
MATCH_ROW_BUDGET = 500
# Up to this many rows, a space (or a filtered part of a larger one, when matching
# must widen to common words) is matched by reading its rows and testing each, not
# through the full-text index. That index's postings of a word span every tenant:
# intersecting them with a few thousand rows read far more than the rows themselves
# (22-33 ms for a space of 2k-5k among 375k rows; a 1% filter of a million rows
# widened to a word held by 437k of them). A space with a words index of its own
# (apps/retrieval/vector_indexes.py) asks that index instead, which holds its rows only:
# 1-2 ms where reading a space of 5k took 10.
ROW_SCAN_MAX = 5000
# A large space's filtered rows, when matching widens to common words, are read if
# there are fewer of them than the widened words' postings in the space divided by
# this (at 1M memories, reading and testing a row took about 15 times what the index
# spends on a posting: 5.7 us against 0.36), up to FILTERED_SCAN_CAP rows. Other
# tenants' postings only add to the index's side.
POSTINGS_PER_ROW_READ = 15
FILTERED_SCAN_CAP = 50_000
STATS_TTL_SECONDS = 300
DF_COUNT_CAP = 5000
# Spaces this large keep their word counts in the lexicon tables (smaller ones count
# at query time, which is cheap for them and always exact).
LEXICON_MIN_MEMORIES = 2000
LEXICON_REFRESH_SHARE = 0.1
LEXICON_MAX_AGE = timedelta(days=1)
LEXICON_REFRESH_DEBOUNCE_SECONDS = 300
logger = logging.getLogger(__name__)
_LEXEME = re.compile(r"(!?)'((?:[^']|'')*)'")
# websearch_to_tsquery's syntax for what a memory must or must not hold: an exclusion
# is a word or a quoted phrase after a minus that starts a word; a phrase is quoted
# (an unclosed quote runs to the end).
_EXCLUSION = re.compile(r'(?:^|(?<=\s))-(?:"[^"]*(?:"|$)|[^\s"]+)')
_PHRASE = re.compile(r'"[^"]*(?:"|$)')


@dataclass
class ParsedQuery:
    terms: list[str]  # the positive lexemes, in order, without duplicates
    # The tsquery of the query's quoted phrases and exclusions, which every match must
    # satisfy; None when it has none. Its plain words only score.
    required: str | None = None


def split_query(query: str) -> tuple[str, str]:
    """The query's words to score (without its exclusions), and its quoted phrases and
    -exclusions in websearch syntax ("" if none).

    A hyphenated word ("self-portrait") is no phrase: websearch_to_tsquery makes it a
    phrase of its parts, but the person asked for none. When any phrase in the parse
    made the whole query strict, its words were ANDed and "When did Maya paint a
    self-portrait?" matched nothing."""
    excluded = _EXCLUSION.findall(query)
    positive = _EXCLUSION.sub(" ", query)
    return positive, " ".join([*excluded, *_PHRASE.findall(positive)])


def parse_query(query: str) -> ParsedQuery | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT websearch_to_tsquery('english', %s)::text,"
            " websearch_to_tsquery('english', %s)::text",
            split_query(query),
        )
        tsquery, required_tsquery = cursor.fetchone()
    return _parsed(tsquery, required_tsquery)


def _parsed(tsquery: str | None, required: str | None = None) -> ParsedQuery | None:
    tsquery = tsquery or ""
    terms: list[str] = []
    for negated, lexeme in _LEXEME.findall(tsquery):
        lexeme = lexeme.replace("''", "'")
        if not negated and "\\" not in lexeme and lexeme not in terms:
            terms.append(lexeme)
    if not terms:
        return None  # only stop words
    return ParsedQuery(terms=terms, required=required or None)


class _SpaceStats:
    """Per-process cache of (space, lexeme) -> document frequency, and space sizes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._df: dict[tuple[int, str], tuple[int, float]] = {}
        self._size: dict[int, tuple[int, bool, float]] = {}

    def parse(self, space_id: int, query: str) -> tuple[ParsedQuery | None, int, dict[str, int]]:
        """The parsed query, the space's size and each query word's frequency.

        With a lexicon, the words' counts are read in the statement that parses the
        query: one round trip where parsing, then counting, took two."""
        size, use_lexicon = self._space(space_id)
        if not use_lexicon:
            parsed = parse_query(query)
            counts = self._cached_counts(space_id, parsed.terms, size, False) if parsed else {}
            return parsed, size, counts
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT websearch_to_tsquery('english', %s)::text,
                       websearch_to_tsquery('english', %s)::text,
                       array_agg(word.lexeme), array_agg(coalesce(f.documents, 0))
                FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS word(lexeme)
                LEFT JOIN retrieval_lexemefrequency f
                       ON f.space_id = %s AND f.lexeme = word.lexeme
                """,
                [*split_query(query), query, space_id],
            )
            tsquery, required, lexemes, counts = cursor.fetchone()
            parsed = _parsed(tsquery, required)
            if parsed is None:
                return None, size, {}
            dfs = dict(zip(lexemes or [], counts or [], strict=True))
            # The query's words and the text's words come from the same parser; this
            # only guards against a case where they differ.
            unseen = [term for term in parsed.terms if term not in dfs]
            if unseen:
                dfs.update(_counted(cursor, space_id, unseen))
        return parsed, size, {term: int(dfs[term]) for term in parsed.terms}

    def _space(self, space_id: int) -> tuple[int, bool]:
        now = time.monotonic()
        with self._lock:
            known = self._size.get(space_id)
        if known is None or known[2] < now:
            known = (*self._load_size(space_id), now + STATS_TTL_SECONDS)
            with self._lock:
                self._size[space_id] = known
        return known[0], known[1]

    def get(self, space_id: int, terms: list[str]) -> tuple[int, dict[str, int]]:
        size, use_lexicon = self._space(space_id)
        return size, self._cached_counts(space_id, terms, size, use_lexicon)

    def _cached_counts(
        self, space_id: int, terms: list[str], size: int, use_lexicon: bool
    ) -> dict[str, int]:
        now = time.monotonic()
        with self._lock:
            cached = {t: self._df.get((space_id, t)) for t in terms}
        missing = [t for t, hit in cached.items() if hit is None or hit[1] < now]
        if missing:
            with connection.cursor() as cursor:
                fresh = (
                    _counted(cursor, space_id, missing)
                    if use_lexicon
                    else _count_now(cursor, space_id, missing, size)
                )
            expires = now + STATS_TTL_SECONDS
            with self._lock:
                if len(self._df) > 200_000:
                    self._df.clear()
                for term, df in fresh.items():
                    self._df[(space_id, term)] = (df, expires)
            cached.update({t: (df, expires) for t, df in fresh.items()})
        return {t: hit[0] for t, hit in cached.items() if hit is not None}

    def _load_size(self, space_id: int) -> tuple[int, bool]:
        """The space's size, and whether its lexicon tables are close enough to use."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM memories_memory WHERE space_id = %s", [space_id])
            (size,) = cursor.fetchone()
            cursor.execute(
                "SELECT memories, computed_at FROM retrieval_lexiconstate WHERE space_id = %s",
                [space_id],
            )
            state = cursor.fetchone()
        if size < LEXICON_MIN_MEMORIES:
            return size, False
        if _lexicon_outdated(state, size):
            _request_lexicon_refresh(space_id)
        return size, state is not None and _lexicon_usable(state[0], size)

    def forget(self, space_id: int) -> None:
        with self._lock:
            self._size.pop(space_id, None)
            for key in [key for key in self._df if key[0] == space_id]:
                del self._df[key]


def _counted(cursor: CursorWrapper, space_id: int, terms: list[str]) -> dict[str, int]:
    """Frequencies from the lexicon tables; a word they lack is newer than the count,
    so it is rare."""
    cursor.execute(
        "SELECT lexeme, documents FROM retrieval_lexemefrequency"
        " WHERE space_id = %s AND lexeme = ANY(%s)",
        [space_id, terms],
    )
    found = dict(cursor.fetchall())
    return {term: int(found.get(term, 0)) for term in terms}


def _count_now(cursor: CursorWrapper, space_id: int, terms: list[str], size: int) -> dict[str, int]:
    if size <= DF_COUNT_CAP:
        # A small space's rows are read once and each word is counted among them.
        # Left to itself, the planner intersects the space index with the GIN index,
        # whose postings of a common word span every tenant: 30-70 ms for a space of
        # a few hundred memories in a table of 375k, against about 1 ms this way.
        cursor.execute(
            """
            WITH own AS MATERIALIZED (
                SELECT search_vector FROM memories_memory WHERE space_id = %s
            )
            SELECT t.term, (
                SELECT count(*) FROM own
                WHERE own.search_vector @@ quote_literal(t.term)::tsquery
            )
            FROM unnest(%s::text[]) AS t(term)
            """,
            [space_id, terms],
        )
        return {term: int(df) for term, df in cursor.fetchall()}
    # Counting stops at DF_COUNT_CAP rows: a word that common weighs little, and
    # counting every row of a large space for it would be the slowest step.
    cursor.execute(
        """
        SELECT t.term, (
            SELECT count(*) FROM (
                SELECT 1 FROM memories_memory m
                WHERE m.space_id = %s
                  AND m.search_vector @@ quote_literal(t.term)::tsquery
                LIMIT %s
            ) AS capped
        )
        FROM unnest(%s::text[]) AS t(term)
        """,
        [space_id, DF_COUNT_CAP, terms],
    )
    return {
        term: df if df < DF_COUNT_CAP else max(DF_COUNT_CAP, size // 4)
        for term, df in cursor.fetchall()
    }


def _lexicon_usable(counted: int, size: int) -> bool:
    # Frequencies move slowly: counts from a space within half its size again are
    # still a far better guess than a capped count.
    return counted > 0 and abs(size - counted) <= counted // 2


def _lexicon_outdated(state: tuple[int, datetime] | None, size: int) -> bool:
    if state is None:
        return True
    counted, computed_at = state
    changed = abs(size - counted) > counted * LEXICON_REFRESH_SHARE
    old = timezone.now() - computed_at > LEXICON_MAX_AGE and size != counted
    return changed or old


def _request_lexicon_refresh(space_id: int) -> None:
    from apps.retrieval.tasks import refresh_lexicon_task

    # Once per window per space, however many searches notice it.
    try:
        if cache.add(f"lexicon-refresh:{space_id}", 1, timeout=LEXICON_REFRESH_DEBOUNCE_SECONDS):
            refresh_lexicon_task.delay(space_id)
    except Exception:  # a search must not fail because the broker is away
        logger.warning("could not queue a lexicon refresh for space %s", space_id, exc_info=True)


@transaction.atomic
def refresh_lexicon(space_id: int) -> int:
    """Count, for every word of the space, how many memories hold it. Returns the
    number of distinct words."""
    with connection.cursor() as cursor:
        # One refresh per space at a time; a second waits and then redoes it (cheap).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('lexicon', %s))", [space_id])
        cursor.execute("SELECT count(*) FROM memories_memory WHERE space_id = %s", [space_id])
        (size,) = cursor.fetchone()
        cursor.execute("DELETE FROM retrieval_lexemefrequency WHERE space_id = %s", [space_id])
        cursor.execute(
            """
            INSERT INTO retrieval_lexemefrequency (space_id, lexeme, documents)
            SELECT %s, word.lexeme, count(*)
            FROM memories_memory m CROSS JOIN LATERAL unnest(m.search_vector) AS word
            WHERE m.space_id = %s
            GROUP BY word.lexeme
            """,
            [space_id, space_id],
        )
        words = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO retrieval_lexiconstate (space_id, memories, computed_at)
            VALUES (%s, %s, now())
            ON CONFLICT (space_id) DO UPDATE
            SET memories = EXCLUDED.memories, computed_at = EXCLUDED.computed_at
            """,
            [space_id, size],
        )
    transaction.on_commit(lambda: STATS.forget(space_id))
    return int(words)


@transaction.atomic
def forget_words_of(space_id: int, memory_id: UUID) -> None:
    """Take a memory that is being purged out of the word counts: a word only it held
    leaves the lexicon (the lexicon would otherwise keep its words). Call it while the
    memory's row still exists."""
    with connection.cursor() as cursor:
        # After a refresh running now, whose counts may include this memory.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('lexicon', %s))", [space_id])
        cursor.execute(
            "SELECT coalesce(array_agg(DISTINCT word.lexeme), '{}') FROM memories_memory m "
            "CROSS JOIN LATERAL unnest(m.search_vector) AS word WHERE m.id = %s",
            [memory_id],
        )
        (words,) = cursor.fetchone()
        # Counts lag the memories (recounted in the background), so a word may be
        # counted for fewer memories than hold it: never below zero.
        cursor.execute(
            "DELETE FROM retrieval_lexemefrequency "
            "WHERE space_id = %s AND lexeme = ANY(%s) AND documents <= 1",
            [space_id, words],
        )
        cursor.execute(
            "UPDATE retrieval_lexemefrequency SET documents = documents - 1 "
            "WHERE space_id = %s AND lexeme = ANY(%s)",
            [space_id, words],
        )
    transaction.on_commit(lambda: STATS.forget(space_id))


@transaction.atomic
def forget_redacted_words(space_id: int, texts: Iterable[str]) -> int:
    """For a redaction, once the memories hold the replacement: the words made of or
    holding a redacted text that no memory of the space holds any more leave the
    lexicon (a count is only a number, but the word is the text). Returns how many
    went."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('lexicon', %s))", [space_id])
        cursor.execute(
            "DELETE FROM retrieval_lexemefrequency f "
            "WHERE f.space_id = %s AND EXISTS ("
            "  SELECT 1 FROM unnest(%s::text[]) AS t "
            "  WHERE strpos(f.lexeme, lower(t)) > 0 "
            "  OR f.lexeme = ANY(tsvector_to_array(to_tsvector(%s::regconfig, t)))"
            ") AND NOT EXISTS ("
            "  SELECT 1 FROM memories_memory m WHERE m.space_id = f.space_id "
            "  AND m.search_vector @@ quote_literal(f.lexeme)::tsquery"
            ")",
            [space_id, list(texts), TEXT_SEARCH_CONFIG],
        )
        gone = cursor.rowcount
    transaction.on_commit(lambda: STATS.forget(space_id))
    return int(gone)


STATS = _SpaceStats()


@dataclass
class Bm25Steps:
    """BM25 as common table expressions: the `names`d steps each yield (step, id,
    score), narrowest match first; the others are what they read. A caller can run
    them alone or in a larger statement."""

    ctes: list[str]
    params: list[Any]
    names: list[str]
    # Each query word as a tsquery and its idf, in turn: what a row's words are scored by.
    term_weights: list[Any] = field(default_factory=list)
    # Whether a CTE `scanned` reads the scope's rows (id, words and any columns the
    # caller asked to read with them) for the steps that test rows.
    scans: bool = False


@dataclass(frozen=True)
class AlsoRead:
    """Columns a caller reads from the rows `scanned` reads, sharing that read: SQL
    over the memories table taking `params`, and at least `rows` rows read."""

    columns: str
    params: list[Any]
    rows: int


def bm25_steps(
    scope: SqlScope,
    space_id: int,
    query: str,
    limit: int,
    *,
    narrowed: bool = True,
    depth: int | None = None,
    own_index: bool = False,
    expected_rows: int | None = None,
    indexed_subset: bool = False,
    also_read: AlsoRead | None = None,
) -> Bm25Steps | None:
    """The steps that find the best `limit` memories in `scope` for `query`, or None
    when nothing can match (only stop words, or an empty space).

    `depth`: return up to this many (more than `limit`), for a caller that re-orders
    them; the words matched, and whether matching widens, are still chosen for `limit`.

    `own_index`: the space has a words index of its own, so even a space of fewer than
    ROW_SCAN_MAX rows is matched through an index rather than read.

    `narrowed`: the filters may leave few rows (more than the default of active
    memories), so the rows with rare words may not be enough and matching may widen.

    `expected_rows`: the planner's estimate of the scope's rows. With it, a narrowed
    match that reads the rows widens first to the words they are expected to hold
    about MATCH_ROW_BUDGET times, and only then to every word.

    `indexed_subset`: the filtered rows have a words index of their own (a subject's,
    apps/retrieval/subject_indexes.py), so a narrowed match widens through it, in the
    same steps, rather than reading them.

    `also_read`: when the steps read the scope's rows, `scanned` reads these columns
    too (Bm25Steps.scans says whether it does).
    """
    parsed, size, dfs = STATS.parse(space_id, query)
    if parsed is None or size == 0:
        return None
    idf = {
        t: math.log(1 + (size - dfs.get(t, 0) + 0.5) / (dfs.get(t, 0) + 0.5)) for t in parsed.terms
    }
    if parsed.required:
        match = f"({_any_of(parsed.terms)}) & ({parsed.required})"
        scan = size <= ROW_SCAN_MAX and not own_index
        return _scoring_steps(scope, [_Step(match, scan=scan)], idf, limit, size, depth, also_read)
    budget = max(MATCH_ROW_BUDGET, 10 * limit)
    by_rarity = sorted(parsed.terms, key=lambda t: dfs.get(t, 0))
    selective = _rarest(by_rarity, dfs, budget)
    rows = sum(dfs.get(term, 0) for term in selective)
    matches = [_any_of(selective)]
    # Unfiltered, the selected words match about MATCH_ROW_BUDGET rows, far more than
    # `limit`: widening would never happen, and planning it costs a fraction of a ms.
    enough = rows >= max(MATCH_ROW_BUDGET, 10 * limit) / 2 and not narrowed
    if len(selective) < len(parsed.terms) and not enough:
        # Filters can leave too few rows with the rare words: then every word matches.
        matches.append(_any_of(parsed.terms))
    if size <= ROW_SCAN_MAX and not own_index:
        scanned = [_Step(m, scan=True) for m in matches]
        return _scoring_steps(scope, scanned, idf, limit, size, depth, also_read)
    steps = [_Step(matches[0])]
    scan_max = ROW_SCAN_MAX
    # For a 1% filter of a million memories, testing each row for all 13 words and
    # scoring the 5,300 that held one (most only the commonest) took 16 ms; the words
    # the filtered rows should hold about MATCH_ROW_BUDGET times matched 350 rows in 6.
    between = _expected_words(by_rarity, dfs, budget, expected_rows, size)
    widens_between = len(selective) < len(between) < len(parsed.terms)
    if len(matches) > 1 and narrowed and indexed_subset:
        # Each step asks the subject's own words index, whose postings are its rows
        # alone: a 1% subject of a million took 0.2 ms for all three, where reading
        # its rows to test them took 15.
        if widens_between:
            steps.append(_Step(_any_of(between)))
        steps.append(_Step(matches[1]))
    elif len(matches) > 1 and narrowed:
        # The filtered rows, if few, are read and tested for every word; if many, the
        # common words come through the index as before.
        postings = sum(dfs.get(t, 0) for t in parsed.terms)
        scan_max = min(FILTERED_SCAN_CAP, max(ROW_SCAN_MAX, postings // POSTINGS_PER_ROW_READ))
        if widens_between:
            steps.append(_Step(_any_of(between), scan=True, if_few=True))
        steps += [_Step(matches[1], scan=True, if_few=True), _Step(matches[1], if_many=True)]
    elif len(matches) > 1:
        steps.append(_Step(matches[1]))
    return _scoring_steps(scope, steps, idf, limit, scan_max, depth, also_read)


def _expected_words(
    by_rarity: list[str], dfs: dict[str, int], budget: int, expected_rows: int | None, size: int
) -> list[str]:
    """The rarest words that `expected_rows` of the space's `size` rows should hold
    about `budget` times in all; none without an estimate."""
    if not expected_rows:
        return []
    share = min(1.0, expected_rows / size)
    return _rarest(by_rarity, dfs, budget / share)


def _rarest(by_rarity: list[str], dfs: dict[str, int], postings: float) -> list[str]:
    """The rarest words whose postings add up to at most `postings`, and at least one."""
    chosen: list[str] = []
    total = 0
    for term in by_rarity:
        if chosen and total + dfs.get(term, 0) > postings:
            break
        chosen.append(term)
        total += dfs.get(term, 0)
    return chosen


@dataclass(frozen=True)
class _Step:
    match: str  # a tsquery
    # Test each of the scope's rows (read once for all steps) rather than asking the
    # full-text index.
    scan: bool = False
    # Run only when the scope holds at most (or more than) the steps' scan_max rows.
    if_few: bool = False
    if_many: bool = False


def widest_step(rows: Iterable[tuple[int, Any, float]]) -> list[tuple[str, float]]:
    """(memory id, score), best first, of the widest step that ran."""
    rows = list(rows)
    widest = max((step for step, _, _ in rows), default=0)
    ranked = [(str(memory_id), float(score)) for step, memory_id, score in rows if step == widest]
    ranked.sort(key=lambda hit: (-hit[1], hit[0]))
    return ranked


def _any_of(terms: list[str]) -> str:
    return " | ".join(_quoted(term) for term in terms)


def _scoring_steps(
    scope: SqlScope,
    steps: list[_Step],
    idf: dict[str, float],
    limit: int,
    scan_max: int,
    depth: int | None = None,
    also_read: AlsoRead | None = None,
) -> Bm25Steps:
    """BM25 with binary term frequency: memories are short, a word rarely repeats, and
    testing each query word with @@ avoids unnesting every matched tsvector.

    `steps` match from narrowest to widest; each step after the first runs only when
    the one before found fewer than `limit` (a one-time filter, which PostgreSQL
    skips entirely otherwise), so widening costs no extra round trip. The `scanned`
    rows, when a step needs them, are read once for all steps, at most
    scan_max + 1 of them where a step chooses by their number (or also_read.rows).
    """
    terms = list(idf)
    weights = [value for term in terms for value in (_quoted(term), idf[term])]
    built = Bm25Steps(ctes=[], params=[], names=[], term_weights=weights)
    if any(step.scan for step in steps):
        capped = any(step.if_few for step in steps)
        extra = f", {also_read.columns}" if also_read else ""
        built.ctes.append(
            f"""scanned AS MATERIALIZED (
                SELECT {column("id")} AS id, {column("search_vector")} AS words{extra}
                FROM "{TABLE}" WHERE {scope.condition}{" LIMIT %s" if capped else ""}
            )"""
        )
        built.params += [*(also_read.params if also_read else []), *scope.params]
        if capped:
            built.params.append(max(scan_max + 1, also_read.rows if also_read else 0))
        built.scans = True
    for number, step in enumerate(steps):
        if step.scan:
            words, source, condition, condition_params = "scanned.words", "scanned", "", []
            row_id = "scanned.id"
        else:
            words, source = column("search_vector"), f'"{TABLE}"'
            condition, condition_params = f"{scope.condition} AND ", [*scope.params]
            row_id = column("id")
        present = _present(words, len(terms))
        guards, guard_params = _guards(built.names, step, limit, scan_max)
        name = f"step{number}"
        # The lexemes are already stemmed: cast as they are, not parsed again.
        built.ctes.append(
            f"""{name} AS MATERIALIZED (
                SELECT {number} AS step, scored.* FROM (
                    WITH matched AS (
                        SELECT {row_id} AS id, ({present}) AS weight,
                               length({words})::float8 AS dl
                        FROM {source} WHERE {condition}{words} @@ %s::tsquery
                    ),
                    -- MATERIALIZED: inlined, a planner that expects one matched row
                    -- (a space newer than its statistics) re-ran the average for
                    -- every matched row, quadratic in the matches.
                    norm AS MATERIALIZED (SELECT GREATEST(avg(dl), 1) AS avgdl FROM matched)
                    SELECT matched.id, {_BM25} AS score
                    FROM matched CROSS JOIN norm
                    ORDER BY score DESC, matched.id
                    LIMIT %s
                ) AS scored{guards}
            )"""
        )
        built.params += [*weights, *condition_params, step.match, depth or limit, *guard_params]
        built.names.append(name)
    return built


# A matched row's BM25 score from its summed idf (`weight`), its length in words and
# the average length over the rows matched with it.
_BM25 = f"matched.weight * {K1 + 1} / (1 + {K1} * (1 - {B} + {B} * matched.dl / norm.avgdl))"


def _present(words: str, terms: int) -> str:
    """The summed idf of the query words `words` holds; takes term_weights as params.
    Summed as float8: an idf passed as it is is a numeric literal, and a step matching
    3,300 rows took 12.0 ms with numeric sums, 10.3 with float8."""
    return " + ".join(
        f"(CASE WHEN {words} @@ %s::tsquery THEN %s::float8 ELSE 0 END)" for _ in range(terms)
    )


def in_context_steps(steps: Bm25Steps) -> tuple[str, list[Any]]:
    """A CTE `text_in_context` of (step, id, score): each step's matches scored again
    on their words read after the memory before them (memories.MemoryInContext.words,
    the two memories' words), with the same idf, lengths averaged over those rows. A
    memory without a predecessor has no row."""
    hits = " UNION ALL ".join(f"SELECT step, id FROM {name}" for name in steps.names)
    terms = len(steps.term_weights) // 2
    return (
        f"""text_in_context AS MATERIALIZED (
            WITH matched AS (
                SELECT hits.step, hits.id, ({_present("c.words", terms)}) AS weight,
                       length(c.words)::float8 AS dl
                FROM ({hits}) AS hits
                JOIN memories_memoryincontext AS c ON c.memory_id = hits.id
            ),
            norm AS MATERIALIZED (
                SELECT step, GREATEST(avg(dl), 1) AS avgdl FROM matched GROUP BY step
            )
            SELECT matched.step, matched.id, {_BM25} AS score
            FROM matched JOIN norm USING (step)
        )""",
        list(steps.term_weights),
    )


def _guards(earlier: list[str], step: _Step, limit: int, scan_max: int) -> tuple[str, list[Any]]:
    """The one-time filter of a step: every narrower step found too few (one that did
    not run found none), and the scope's size is what the step is for. Evaluated in
    order, lazily: the rows are only counted when the narrower steps fell short."""
    guards: list[str] = []
    params: list[Any] = []
    for narrower in earlier:
        guards.append(f"(SELECT count(*) FROM {narrower}) < %s")
        params.append(limit)
    if step.if_few or step.if_many:
        guards.append(f"(SELECT count(*) FROM scanned) {'<=' if step.if_few else '>'} %s")
        params.append(scan_max)
    return (" WHERE " + " AND ".join(guards) if guards else ""), params


def _quoted(term: str) -> str:
    return "'" + term.replace("'", "''") + "'"
