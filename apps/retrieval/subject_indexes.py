"""A very large space's busiest subjects get indexes of their own: an HNSW graph and a
words index over the space's memories about that subject.

A subject filter of a very large space leaves rows scattered over the whole table. At
a million memories, the space's graph (1.1 GB, more than fits in memory) walked past
the other subjects' rows for 42 / 76 ms (median / p95) to find ten of a 1% subject,
and reading that subject's 10,000 rows to sort them exactly, and to test their words,
took 15 ms however it was arranged: one scattered row read each. A graph and a words
index of the subject's own answer such a search as a space of 10,000 memories would.
Qdrant builds graphs per payload value for the same reason.

Which subjects: in a space of at least settings.VERY_LARGE_SPACE embedded memories,
the MAX_PER_SPACE largest with at least settings.SUBJECT_INDEX_MIN_ROWS embedded
memories and at most MAX_SHARE of the space (a filter that leaves more, the space's
own graph walks fast enough).

The cost is at write time: each memory about such a subject pays a second HNSW insert
when its vector is stored. In a scratch table (a 20k-vector graph, and a subject's
graph growing from 2k to 7k), 5,000 inserts took 3.0-3.4 ms each against 1.3-1.6 ms
with the one graph. Setting SUBJECT_INDEX_MIN_ROWS to 0 builds no more of them.

The indexes are partial, `WHERE space_id = <id> AND subject = '<subject>'`, the subject
written as a literal as searches write it (Django binds on the client), so the planner
matches them to any search with that subject filter, whatever else it filters on. An
index's name holds a hash of the subject: a name has at most 63 bytes, a subject 200.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.db import connections

from apps.core.replicas import PRIMARY
from apps.core.ttl import TtlCache
from apps.retrieval import storage, vector_indexes
from apps.retrieval.vector_indexes import vectors_method, words_method

logger = logging.getLogger(__name__)

TABLE = vector_indexes.TABLE
VECTORS_PREFIX = "subject_embedding_"
WORDS_PREFIX = "subject_words_"
MAX_SHARE = 0.1
# Each partial index is one more the planner matches against a search of the table.
MAX_PER_SPACE = 32
# database alias -> the (space id, subject key) pairs with both indexes valid
_indexed: TtlCache[str, frozenset[tuple[int, str]]] = TtlCache(60, max_entries=16)


def subject_key(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:16]


def vectors_index_name(space_id: int, subject: str) -> str:
    return f"{VECTORS_PREFIX}{int(space_id)}_{subject_key(subject)}"


def words_index_name(space_id: int, subject: str) -> str:
    return f"{WORDS_PREFIX}{int(space_id)}_{subject_key(subject)}"


def has_indexes(space_id: int, subject: str, using: str = PRIMARY) -> bool:
    """Whether the space's memories about `subject` have both indexes of their own, as
    this process saw the catalogue at most a minute ago."""
    built = _indexed.get(using, lambda: _valid_pairs(using))
    return (space_id, subject_key(subject)) in built


def belongs_to(index_name: str, space_id: int) -> bool:
    """Whether `index_name` is one of the space's subject indexes."""
    return any(
        index_name.startswith(f"{prefix}{int(space_id)}_")
        for prefix in (VECTORS_PREFIX, WORDS_PREFIX)
    )


_PREDICATE_SUBJECT = re.compile(r"\(subject\)::text = '((?:[^']|'')*)'::text")


def subject_of(index: storage.TableIndex) -> str | None:
    """The subject whose memories a subject index holds, read from its predicate (its
    name holds only a hash); None for any other index."""
    if not index.name.startswith((VECTORS_PREFIX, WORDS_PREFIX)):
        return None
    found = _PREDICATE_SUBJECT.search(index.definition)
    return found.group(1).replace("''", "'") if found else None


def _own_indexes(using: str) -> dict[tuple[int, str], dict[str, storage.TableIndex]]:
    """(space id, subject key) -> its indexes by access method, valid or not."""
    found: dict[tuple[int, str], dict[str, storage.TableIndex]] = {}
    for index in storage.table_indexes(connections[using], "hnsw", "gin"):
        prefix = VECTORS_PREFIX if index.method == "hnsw" else WORDS_PREFIX
        if not index.name.startswith(prefix):
            continue
        space_id, _, key = index.name.removeprefix(prefix).partition("_")
        found.setdefault((int(space_id), key), {})[index.method] = index
    return found


def _valid_pairs(using: str) -> frozenset[tuple[int, str]]:
    return frozenset(
        pair
        for pair, indexes in _own_indexes(using).items()
        if all(method in indexes and indexes[method].valid for method in ("hnsw", "gin"))
    )


def subjects_needing_indexes(using: str = PRIMARY) -> list[tuple[int, str]]:
    """(space id, subject) of the subjects that should have indexes of their own (the
    module's docstring says which) and lack a valid one; none once
    SUBJECT_INDEX_MIN_ROWS is 0 (an ingest-heavy deployment's choice: see the cost)."""
    if settings.SUBJECT_INDEX_MIN_ROWS <= 0:
        return []
    wanted: list[tuple[int, str]] = []
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT space_id, count(*) FROM {TABLE} WHERE embedding IS NOT NULL"
            " GROUP BY space_id HAVING count(*) >= %s ORDER BY space_id",
            [settings.VERY_LARGE_SPACE],
        )
        for space_id, size in cursor.fetchall():
            cursor.execute(
                f"SELECT subject FROM {TABLE} WHERE space_id = %s AND embedding IS NOT NULL"
                " AND subject <> '' GROUP BY subject HAVING count(*) BETWEEN %s AND %s"
                " ORDER BY count(*) DESC, subject LIMIT %s",
                [space_id, settings.SUBJECT_INDEX_MIN_ROWS, int(size * MAX_SHARE), MAX_PER_SPACE],
            )
            wanted += [(space_id, subject) for (subject,) in cursor.fetchall()]
    built = _valid_pairs(using)
    return [(space_id, s) for space_id, s in wanted if (space_id, subject_key(s)) not in built]


def build_indexes(space_id: int, subject: str, using: str = PRIMARY) -> bool:
    """Give the space's memories about `subject` their own indexes unless they have
    them; returns whether one was built. Built as vector_indexes.build_index builds a
    space's: concurrently, again over an invalid one, one builder at a time."""

    def wanted() -> list[vector_indexes.Wanted]:
        indexes = _own_indexes(using).get((space_id, subject_key(subject)), {})
        return [
            (indexes.get("hnsw"), vectors_index_name(space_id, subject), vectors_method()),
            (indexes.get("gin"), words_index_name(space_id, subject), words_method()),
        ]

    built = vector_indexes.build_missing(
        f"space {int(space_id)} subject {subject_key(subject)}",
        wanted,
        f"space_id = {int(space_id)} AND subject = %s",
        [subject],
        using,
    )
    _indexed.forget()
    if built:
        logger.info("built the indexes of subject %r in space %s", subject, space_id)
    return built


def drop_orphaned_indexes(using: str = PRIMARY) -> list[int]:
    """Drop the subject indexes of spaces that no longer exist; returns their ids."""
    own = [
        (space_id, index)
        for (space_id, _), indexes in _own_indexes(using).items()
        for index in indexes.values()
    ]
    dropped = vector_indexes.drop_indexes_of_deleted_spaces(own, using)
    _indexed.forget()
    return dropped


def forget() -> None:
    """Read the catalogue again on the next search (after building or dropping)."""
    _indexed.forget()
