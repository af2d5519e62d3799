"""Writing many rows fast: a cursor that binds on the server, and COPY for new rows.

Django's psycopg cursors bind on the client: every value is quoted into the SQL
text, and the text is parsed back on the server. For the bulk paths of the domain
layer (a batch of memories, their versions and events; a batch of vectors) that was
about half of the time, so these paths use psycopg directly, in Django's connection
and its current transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

import psycopg
from django.db import connection, models

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
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.generated and not isinstance(field, models.AutoField)
    ]
    rows = []
    for obj in objs:
        # Refuses an unsaved related object, as save() and bulk_create() do.
        cast(Any, obj)._prepare_related_fields_for_save(operation_name="copy_insert")
        rows.append(
            [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
        )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with (
        server_cursor() as cursor,
        cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
