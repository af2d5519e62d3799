from django.db import migrations

# Every search updates its hits' access count, strength and last access. None of those
# columns is indexed, so PostgreSQL can update the row in place (a HOT update, no new
# index entries) when the row's page has room for the new version. Pages packed full
# (the default fillfactor of 100) never have room, and each of those updates then
# inserts into all twelve indexes: the HNSW graph and the full-text GIN index included,
# for a vector and a text that did not change. Leaving 30% of each page free keeps most
# of them HOT. Pages already written keep their layout until rows move or are rewritten.
SQL = "ALTER TABLE memories_memory SET (fillfactor = 70)"
REVERSE_SQL = "ALTER TABLE memories_memory RESET (fillfactor)"


class Migration(migrations.Migration):
    dependencies = [("memories", "0003_allow_space_purge")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
