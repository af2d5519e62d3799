from django.conf import settings
from django.db import migrations

# The one HNSW index of every space gives way to one partial index per large space
# (apps/retrieval/vector_indexes.py says why). The spaces that are large already get
# theirs here, before the shared index goes, so no search of theirs falls back to a
# full scan; the index job builds the rest as spaces grow. The SQL is written out, not
# imported, so this migration keeps doing what it did when that module changes.
INDEX_PREFIX = "memory_embedding_s"


def build_indexes_of_large_spaces(apps, schema_editor):
    threshold = max(1, settings.EXACT_SEARCH_BELOW)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT space_id FROM memories_memory WHERE embedding IS NOT NULL"
            " GROUP BY space_id HAVING count(*) >= %s",
            [threshold],
        )
        large = [space_id for (space_id,) in cursor.fetchall()]
        if large:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for space_id in large:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX_PREFIX}{int(space_id)} ON memories_memory"
                " USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                f" WHERE space_id = {int(space_id)}"
            )


def drop_indexes_of_spaces(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'memories_memory'"
            " AND indexname LIKE %s",
            [INDEX_PREFIX.replace("_", r"\_") + "%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("memories", "0007_timeline_moment_index")]

    operations = [
        migrations.RunPython(build_indexes_of_large_spaces, drop_indexes_of_spaces),
        migrations.RemoveIndex(model_name="memory", name="memory_embedding_hnsw"),
    ]
