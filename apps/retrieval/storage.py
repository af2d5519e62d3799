"""How memory embeddings are stored: the one place that knows MEMORYWEB_VECTOR_STORAGE.

`vector` keeps 4-byte floats; `halfvec` keeps 2-byte floats, which halves the table's
vectors and the HNSW indexes over them (docs/benchmarks.md, "Vector storage").

The migrations always declare memories_memory.embedding as `vector(384)`, so their state
does not depend on the setting. The column's real type follows the setting instead:
- an empty table is converted right after `migrate` (a fresh database just works);
- a table holding vectors is converted by `manage.py vector_storage`, which rebuilds
  every HNSW index of the table with the matching operator class, in one transaction;
- until then every process refuses to use the database (a connection raises, and the
  database system check reports it), since the queries would cast to the wrong type.

Raw SQL compares with `embedding <=> {query_param()}`; an ORM distance against a vector
literal (CosineDistance) needs nothing, PostgreSQL types the literal as the column.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "memories_memory"
COLUMN = "embedding"
COMMAND = "manage.py vector_storage"
STORAGES = ("vector", "halfvec")
_OPCLASS = re.compile(r"\b(?:vector|halfvec)_(cosine|l2|ip|l1)_ops\b")

# Aliases whose column this process has found matching the setting: the check runs
# once per process and database, not on every new connection.
_verified: set[str] = set()


def sql_type() -> str:
    """The column's type name for the configured storage: `vector` or `halfvec`."""
    return str(settings.VECTOR_STORAGE)


def column_type() -> str:
    return f"{sql_type()}({settings.EMBEDDING_DIMENSIONS})"


def cosine_opclass() -> str:
    """The HNSW operator class for cosine distance on the configured storage."""
    return f"{sql_type()}_cosine_ops"


def query_param() -> str:
    """A query vector's placeholder in raw SQL, cast to the column's type: the HNSW
    index serves `embedding <=> x` only when both sides have the indexed type."""
    return f"%s::{sql_type()}"


def _one(connection: BaseDatabaseWrapper, sql: str, params: list[Any]) -> Any:
    """The first column of the first row, read on psycopg's own cursor: these checks run
    as a connection opens, and are no query of the caller's (query counts, captures)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def stored_type(connection: BaseDatabaseWrapper) -> str | None:
    """The column's type name in the database (`vector` or `halfvec`); None before the
    table exists."""
    found = _one(
        connection,
        """
        SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
        """,
        [TABLE, COLUMN],
    )
    return None if found is None else str(found)


def _holds_vectors(connection: BaseDatabaseWrapper) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE {COLUMN} IS NOT NULL)"
    return bool(_one(connection, sql, []))


@dataclass(frozen=True)
class TableIndex:
    name: str
    method: str  # "hnsw", "gin", ...
    definition: str
    # False while a concurrent build runs, or after one died.
    valid: bool
    bytes: int

    @property
    def partial(self) -> bool:
        return " WHERE " in self.definition


def hnsw_indexes(connection: BaseDatabaseWrapper) -> list[TableIndex]:
    """Every HNSW index on the memories table, by name: the per-space partial ones and
    any global one."""
    return table_indexes(connection, "hnsw")


def table_indexes(connection: BaseDatabaseWrapper, *methods: str) -> list[TableIndex]:
    """The memories table's indexes of these access methods ("hnsw", "gin"), by name.
    The one reader of the catalogue for the conversion, the per-space index jobs and the
    health panel."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, am.amname, pg_get_indexdef(i.indexrelid), i.indisvalid,"
            " pg_relation_size(i.indexrelid)"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am am ON am.oid = c.relam"
            " WHERE i.indrelid = %s::regclass AND am.amname = ANY(%s)"
            " ORDER BY c.relname",
            [TABLE, list(methods)],
        )
        return [
            TableIndex(str(name), str(method), str(definition), bool(valid), int(size))
            for name, method, definition, valid, size in cursor.fetchall()
        ]


def mismatch(connection: BaseDatabaseWrapper) -> str | None:
    """Why this database cannot be used with the configured storage, or None.

    An empty table with the other type is no mismatch yet: `migrate` converts it."""
    stored = stored_type(connection)
    if stored is None or stored == sql_type() or not _holds_vectors(connection):
        return None
    return (
        f"{TABLE}.{COLUMN} holds {stored} embeddings but MEMORYWEB_VECTOR_STORAGE is "
        f"{sql_type()!r}. Run `{COMMAND}` with the setting you want to convert the column "
        f"(and its HNSW indexes), or set MEMORYWEB_VECTOR_STORAGE={stored}."
    )


def verify(connection: BaseDatabaseWrapper) -> None:
    """Raise ImproperlyConfigured when the column does not match the setting."""
    if connection.alias in _verified:
        return
    problem = mismatch(connection)
    if problem:
        raise ImproperlyConfigured(problem)
    _verified.add(connection.alias)


def allow_mismatch(alias: str) -> None:
    """Let this process use a mismatched database: the converter must connect to it."""
    _verified.add(alias)


def forget_verified() -> None:
    """Check again on the next connection (after a conversion in this process)."""
    _verified.clear()


def refuse_mismatched_database(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver: a process whose queries would cast to the other
    type fails at its first query, never computes distances in a mixed type."""
    if connection.alias in _verified or connection.vendor != "postgresql":
        return
    try:
        verify(connection)
    except ImproperlyConfigured:
        # Closed so the next query connects, and fails, again.
        connection.close()
        raise


@checks.register(checks.Tags.database)
def check_vector_storage(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check --database default` and `migrate` report a mismatch."""
    errors: list[checks.CheckMessage] = []
    for alias in databases or []:
        problem = mismatch(connections[alias])
        if problem:
            errors.append(checks.Error(problem, id="retrieval.E001"))
    return errors


@dataclass
class Conversion:
    """What `convert` did: the types before and after, the indexes rebuilt."""

    before: str | None
    after: str
    indexes: list[str] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.before != self.after


def convert(using: str = DEFAULT_DB_ALIAS) -> Conversion:
    """Convert the column and its HNSW indexes to the configured storage, in place.

    One transaction: the indexes are dropped, the column rewritten (ALTER COLUMN TYPE
    ... USING), then each index is created again from its own definition with the
    operator class swapped, so a partial per-space index stays partial. Any failure
    rolls all of it back. The table is locked (ACCESS EXCLUSIVE) throughout: searches
    and writes wait. Converting to the type already stored does nothing."""
    connection = connections[using]
    began = time.perf_counter()
    with transaction.atomic(using=using):
        before = stored_type(connection)
        if before is None:
            raise ImproperlyConfigured(f"{TABLE} does not exist yet: run `manage.py migrate`.")
        if before == sql_type():
            return Conversion(before=before, after=before)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {COLUMN} IS NOT NULL")
            row = cursor.fetchone()
            indexes = hnsw_indexes(connection)
            for index in indexes:
                cursor.execute(f'DROP INDEX "{index.name}"')
            cursor.execute(
                f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} TYPE {column_type()}"
                f" USING {COLUMN}::{column_type()}"
            )
            for index in indexes:
                cursor.execute(_OPCLASS.sub(lambda m: f"{sql_type()}_{m[1]}_ops", index.definition))
    forget_verified()
    return Conversion(
        before=before,
        after=sql_type(),
        indexes=[index.name for index in indexes],
        embedded=int(row[0]) if row else 0,
        seconds=time.perf_counter() - began,
    )


def follow_setting(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver: a table without vectors takes the configured type at
    once, so a fresh database (and every test database) needs no extra step."""
    connection = connections[using]
    stored = stored_type(connection)
    if stored is None or stored == sql_type() or _holds_vectors(connection):
        return
    convert(using)
