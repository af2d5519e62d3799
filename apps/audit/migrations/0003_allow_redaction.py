from django.db import migrations

# Purging a memory must take its text out of the audit trail too, while the trail
# keeps saying who did what and when. apps.audit.redaction announces itself with a
# transaction-local setting naming the space; then, and only in that space, an
# audit event's `reason` and `summary` may be rewritten. Every other column stays
# append-only, and no other table gains anything.
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

# The function as memories.0003 left it.
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
    dependencies = [("audit", "0002_append_only_trigger"), ("memories", "0003_allow_space_purge")]
    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
