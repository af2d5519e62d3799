from django.db import migrations

# History must not be rewritten, whoever holds a database connection: episodes are
# raw input kept exactly as received, and a version is a snapshot of a past state.
# Versions may still be deleted, because purge removes a memory with its history.
# The one update allowed is clearing an actor reference when that user or token
# is deleted (ON DELETE SET NULL); the actor_label keeps the attribution.
SQL = """
CREATE OR REPLACE FUNCTION memoryweb_refuse_change() RETURNS trigger AS $$
DECLARE
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := to_jsonb(OLD);
BEGIN
    IF TG_OP = 'UPDATE'
       AND (new_row - 'actor_user_id' - 'actor_token_id')
           = (old_row - 'actor_user_id' - 'actor_token_id')
       AND (new_row->'actor_user_id' = 'null'::jsonb
            OR new_row->'actor_user_id' = old_row->'actor_user_id')
       AND (new_row->'actor_token_id' = 'null'::jsonb
            OR new_row->'actor_token_id' = old_row->'actor_token_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'rows of % are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER episode_immutable BEFORE UPDATE ON memories_episode
    FOR EACH ROW EXECUTE FUNCTION memoryweb_refuse_change();
CREATE TRIGGER memoryversion_immutable BEFORE UPDATE ON memories_memoryversion
    FOR EACH ROW EXECUTE FUNCTION memoryweb_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS memoryversion_immutable ON memories_memoryversion;
DROP TRIGGER IF EXISTS episode_immutable ON memories_episode;
"""


class Migration(migrations.Migration):
    dependencies = [("memories", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
