"""A search's filters as one SQL condition, compiled once per search.

Both candidate lists (nearest vectors and BM25, one or more steps) filter the same
rows. Compiling the filtered queryset for each of them cost more than a millisecond of
Python per hybrid search at 100k memories; the condition is compiled once and each
statement puts it in its own WHERE clause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from apps.memories.models import Memory

TABLE = Memory._meta.db_table


def column(name: str) -> str:
    """A column of the memories table, named as a scope's condition names it."""
    return f'"{TABLE}"."{name}"'


@dataclass(frozen=True)
class SqlScope:
    """`condition` refers to the memories table by its own name, so a statement reads
    it as `FROM memories_memory` without an alias."""

    condition: str
    params: tuple[Any, ...]

    @classmethod
    def of(cls, queryset: QuerySet[Memory]) -> SqlScope:
        query = queryset.query
        joined = [alias for alias, refs in query.alias_refcount.items() if refs and alias != TABLE]
        if joined or query.is_sliced or query.combinator:
            # A condition on a joined table would refer to an alias no statement has.
            raise ValueError("a search scope filters the memories table alone")
        compiler = query.get_compiler(connection=connections[queryset.db])
        condition, params = compiler.compile(query.where)
        return cls(condition=condition or "TRUE", params=tuple(params))
