from django.db import migrations

# Redaction (services.redaction) also takes a redacted text out of the labels and
# metadata a version or an episode copied: a key pasted into a subject, a tag, a
# metadata key or value, a speaker's name or a session's label. Under
# memoryweb.redacting_space, and only in that space, a version may now change its
# `content`, `reason`, `subject`, `agent`, `session`, `tags` and `metadata`, and an
# episode its `content`, `session`, `speaker`, `agent` and `metadata`. Every other
# column (ids, kind, action, actor, times, scores, an episode's source and role) stays
# as written, and without the setting nothing changes.
VERSION_TEXT = "'content' - 'reason' - 'subject' - 'agent' - 'session' - 'tags' - 'metadata'"
EPISODE_TEXT = "'content' - 'session' - 'speaker' - 'agent' - 'metadata'"

FUNCTION = """
CREATE OR REPLACE FUNCTION memoryweb_refuse_change() RETURNS trigger AS $$
DECLARE
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := to_jsonb(OLD);
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('memoryweb.purging_space', true) = (old_row->>'space_id') THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE'
       AND TG_TABLE_NAME = 'audit_auditevent'
       AND current_setting('memoryweb.redacting_space', true) = (old_row->>'space_id')
       AND (new_row - 'reason' - 'summary') = (old_row - 'reason' - 'summary') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND TG_TABLE_NAME = 'memories_memoryversion'
       AND current_setting('memoryweb.redacting_space', true) = (old_row->>'space_id')
       AND (new_row - %(version)s) = (old_row - %(version)s) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND TG_TABLE_NAME = 'memories_episode'
       AND current_setting('memoryweb.redacting_space', true) = (old_row->>'space_id')
       AND (new_row - %(episode)s) = (old_row - %(episode)s) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND (new_row - 'actor_user_id' - 'actor_token_id')
           = (old_row - 'actor_user_id' - 'actor_token_id')
       AND (new_row->'actor_user_id' = 'null'::jsonb
            OR new_row->'actor_user_id' = old_row->'actor_user_id')
       AND (new_row->'actor_token_id' = 'null'::jsonb
            OR new_row->'actor_token_id' = old_row->'actor_token_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'rows of %% are append-only (%% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""

SQL = FUNCTION % {"version": VERSION_TEXT, "episode": EPISODE_TEXT}
# The function as memories.0005 left it.
REVERSE_SQL = FUNCTION % {"version": "'content' - 'reason'", "episode": "'content'"}


class Migration(migrations.Migration):
    dependencies = [("memories", "0005_allow_redaction")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
