import re

from django.db import migrations, models

# A vector stored in a space with a graph of its own waits outside it, read exactly by
# searches, until the graph job adds it (apps/retrieval/graph.py says why). The
# existing graphs (each large space's, each indexed subject's) are built again with
# the predicate that leaves those rows out. The SQL is written out, not imported, so
# this migration keeps doing what it did when those modules change.
GRAPH_PREFIXES = ("memory_embedding_s", "subject_embedding_")
LEFT_OUT = " AND NOT graph_pending"
LEFT_OUT_AS_STORED = re.compile(r" AND \(NOT graph_pending\)\)$")


def _graphs(cursor):
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memories_memory'"
        " AND indexdef LIKE '% USING hnsw %' ORDER BY indexname"
    )
    return [
        (name, definition)
        for name, definition in cursor.fetchall()
        if name.startswith(GRAPH_PREFIXES)
    ]


def _rebuild(cursor, rewrite):
    graphs = _graphs(cursor)
    if graphs:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
    for name, definition in graphs:
        cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(rewrite(definition))


def leave_pending_rows_out(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        _rebuild(cursor, lambda definition: definition + LEFT_OUT)


def take_pending_rows_in(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        _rebuild(cursor, lambda definition: LEFT_OUT_AS_STORED.sub(")", definition))


class Migration(migrations.Migration):
    dependencies = [("memories", "0010_words_index_per_large_space")]

    operations = [
        migrations.AddField(
            model_name="memory",
            name="graph_pending",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddIndex(
            model_name="memory",
            index=models.Index(
                condition=models.Q(("graph_pending", True)),
                fields=["space"],
                name="memory_graph_pending",
            ),
        ),
        migrations.RunPython(leave_pending_rows_out, take_pending_rows_in),
    ]
