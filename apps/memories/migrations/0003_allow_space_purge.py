from django.db import migrations

# Purging a whole space (spaces.services.purge_space) must remove its audit trail
# too. It announces itself with a transaction-local setting naming the space; any
# other delete of an audit event is still refused.
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
    dependencies = [("memories", "0002_append_only_triggers")]
    operations = [migrations.RunSQL(SQL, migrations.RunSQL.noop)]
