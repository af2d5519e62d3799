from django.db import migrations, models

# Redaction (services.redaction) is the one sanctioned rewrite of history: a secret
# or a piece of personal data must leave the versions a memory had and the episodes
# it came from, not only its current text. apps.audit.redaction announces it with the
# transaction-local setting memoryweb.redacting_space naming the space; then, and only
# in that space, a version may change its `content` and `reason` and an episode its
# `content`. Every other column stays as written, every other table gains nothing, and
# without the setting nothing changes.
SQL = """
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
       AND (new_row - 'content' - 'reason') = (old_row - 'content' - 'reason') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND TG_TABLE_NAME = 'memories_episode'
       AND current_setting('memoryweb.redacting_space', true) = (old_row->>'space_id')
       AND (new_row - 'content') = (old_row - 'content') THEN
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
    RAISE EXCEPTION 'rows of % are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""

# The function as audit.0003 left it.
REVERSE_SQL = """
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
"""


class Migration(migrations.Migration):
    dependencies = [("memories", "0004_memory_fillfactor"), ("audit", "0003_allow_redaction")]

    operations = [
        migrations.AlterField(
            model_name="memoryversion",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "Created"),
                    ("update", "Edited"),
                    ("archive", "Archived"),
                    ("restore", "Restored"),
                    ("delete", "Deleted"),
                    ("supersede", "Superseded"),
                    ("merge", "Merged"),
                    ("revert", "Reverted"),
                    ("redact", "Redacted"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
