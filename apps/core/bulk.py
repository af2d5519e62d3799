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
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
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
    # Per field: the Python types psycopg takes as they are (_plain_types).
    plain: list[tuple[type, ...]]
    # Per field: whether its value comes from pre_save() (auto_now) or the attribute.
    presaved: list[bool]

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
        [_plain_types(field) for field in fields],
        [
            bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
            for field in fields
        ],
    )


# Fields whose get_db_prep_save() only turns a value into its Python type for psycopg
# to adapt: a value of exactly that type (or None) is passed as it is. The conversion
# was a third of the Python of a batch of memories, their versions and events. Exact
# classes only: a subclass (a slug, an e-mail address) may convert in its own way.
_PLAIN_TYPES: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    models.BooleanField: (bool,),
    models.CharField: (str,),
    models.TextField: (str,),
    models.FloatField: (float,),
    models.IntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.BigIntegerField: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.UUIDField: (uuid.UUID,),
    # Only an aware datetime (_db_values): Django warns about a naive one and makes it
    # aware.
    models.DateTimeField: (datetime,),
}


def _plain_types(field: models.Field[Any, Any]) -> tuple[type, ...]:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    return _PLAIN_TYPES.get(type(target), ())


def _db_values(obj: models.Model, columns: _Columns, operation: str) -> list[Any]:
    # Refuses an unsaved related object, as save() and bulk_create() do.
    cast(Any, obj)._prepare_related_fields_for_save(operation_name=operation)
    db = connections[DEFAULT_DB_ALIAS]
    values = []
    for field, plain, presaved in zip(columns.fields, columns.plain, columns.presaved, strict=True):
        value = field.pre_save(obj, True) if presaved else getattr(obj, field.attname)
        if plain and (
            value is None
            or (type(value) in plain and (type(value) is not datetime or value.tzinfo))
        ):
            values.append(value)
        else:
            values.append(field.get_db_prep_save(value, db))
    return values


def _mark_saved(objs: Sequence[models.Model]) -> None:
    for obj in objs:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
