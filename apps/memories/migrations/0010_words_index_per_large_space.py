import django.contrib.postgres.indexes
from django.conf import settings
from django.db import migrations

# Large spaces get an index of their own words beside their HNSW graph
# (apps/retrieval/vector_indexes.py says why); those that are large already get it
# here, the index job builds the rest as spaces grow. The GIN indexes' pending lists
# shrink to 256 kB (models.GIN_PENDING_LIST_KB says why), in place: the option needs
# no rebuild. The SQL is written out, not imported, so this migration keeps doing what
# it did when those modules change.
WORDS_INDEX_PREFIX = "memory_words_s"
PENDING_LIST_KB = 256


def build_words_indexes_of_large_spaces(apps, schema_editor):
    threshold = max(1, settings.EXACT_SEARCH_BELOW)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT space_id FROM memories_memory WHERE embedding IS NOT NULL"
            " GROUP BY space_id HAVING count(*) >= %s",
            [threshold],
        )
        large = [space_id for (space_id,) in cursor.fetchall()]
        if large:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for space_id in large:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {WORDS_INDEX_PREFIX}{int(space_id)}"
                " ON memories_memory USING gin (search_vector)"
                f" WITH (gin_pending_list_limit = {PENDING_LIST_KB})"
                f" WHERE space_id = {int(space_id)}"
            )


def drop_words_indexes_of_spaces(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'memories_memory'"
            " AND indexname LIKE %s",
            [WORDS_INDEX_PREFIX.replace("_", r"\_") + "%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def pending_list_limit(limit):
    option = (
        f"SET (gin_pending_list_limit = {limit})" if limit else "RESET (gin_pending_list_limit)"
    )
    return [f"ALTER INDEX {name} {option}" for name in ("memory_search_vector", "memory_tags")]


def gin_index(field, name, limit):
    return django.contrib.postgres.indexes.GinIndex(
        fields=[field], name=name, gin_pending_list_limit=limit
    )


class Migration(migrations.Migration):
    dependencies = [("memories", "0009_memory_in_context")]

    operations = [
        migrations.RunPython(build_words_indexes_of_large_spaces, drop_words_indexes_of_spaces),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(pending_list_limit(PENDING_LIST_KB), pending_list_limit(None))
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="memory", name="memory_search_vector"),
                migrations.RemoveIndex(model_name="memory", name="memory_tags"),
                migrations.AddIndex(
                    model_name="memory",
                    index=gin_index("search_vector", "memory_search_vector", PENDING_LIST_KB),
                ),
                migrations.AddIndex(
                    model_name="memory", index=gin_index("tags", "memory_tags", PENDING_LIST_KB)
                ),
            ],
        ),
    ]
