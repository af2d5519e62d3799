"""Writing many rows fast: a cursor that binds on the server, and COPY for new rows.

Django's psycopg cursors bind on the client: every value is quoted into the SQL
text, and the text is parsed back on the server. For the bulk paths of the domain
layer (a batch of memories, their versions and events; a batch of vectors) that was
about half of the time, so these paths use psycopg directly, in Django's connection
and its current transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

M = TypeVar("M", bound=models.Model)


@contextlib.contextmanager
def server_cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor on Django's connection, in its transaction. Errors surface as
    Django's (IntegrityError, OperationalError...), as from any other query."""
    connection.ensure_connection()
    raw = cast(psycopg.Connection[Any], connection.connection)
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        yield cursor


def copy_insert(objs: Sequence[M]) -> None:
    """Insert new instances of one model with a single COPY.

    Like bulk_create it sends no signals and calls no save(), and the instances count
    as saved afterwards. Unlike it, an auto-increment id stays unset on the instances:
    use it where nothing reads those ids back.
    """
    if not objs:
        return
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError(f"copy_insert() takes instances of one model ({model.__name__})")
    columns = _columns(model)
    rows = [_db_values(obj, columns, "copy_insert") for obj in objs]
    with (
        server_cursor() as cursor,
        cursor.copy(f"COPY {columns.table} ({columns.names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    _mark_saved(objs)


def insert_together(objs: Sequence[models.Model]) -> None:
    """Insert new instances of any models, in this order, in one round trip.

    One INSERT each, bound on the server and sent in a pipeline, so nothing waits for
    the server between them (and psycopg prepares a statement it has sent five times
    on a connection, so PostgreSQL stops parsing and planning it). For a
    single write (a memory, its version and its event) the waits were most of the time.
    The same contract as copy_insert: no signals, no save(), auto-increment ids unset.
    """
    statements = []
    for obj in objs:
        columns = _columns(type(obj))
        statements.append((columns.insert, _db_values(obj, columns, "insert_together")))
    with server_cursor() as cursor, cursor.connection.pipeline():
        for sql, values in statements:
            cursor.execute(sql, values)
    _mark_saved(objs)


@dataclasses.dataclass(frozen=True)
class _Columns:
    """What a model's rows are written as: built once per model, since Django's
    field and connection lookups were a third of a single insert's Python."""

    fields: list[models.Field[Any, Any]]
    table: str
    names: str

    @property
    def insert(self) -> str:
        placeholders = ", ".join(["%s"] * len(self.fields))
        return f"INSERT INTO {self.table} ({self.names}) VALUES ({placeholders})"


@functools.cache
def _columns(model: type[models.Model]) -> _Columns:
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.generated and not isinstance(field, models.AutoField)
    ]
    quote = connection.ops.quote_name
    return _Columns(
        fields,
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
    )


def _db_values(obj: models.Model, columns: _Columns, operation: str) -> list[Any]:
    # Refuses an unsaved related object, as save() and bulk_create() do.
    cast(Any, obj)._prepare_related_fields_for_save(operation_name=operation)
    db = connections[DEFAULT_DB_ALIAS]
    return [field.get_db_prep_save(field.pre_save(obj, True), db) for field in columns.fields]


def _mark_saved(objs: Sequence[models.Model]) -> None:
    for obj in objs:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
