from django.db import migrations

# The audit trail is evidence: no UPDATE or DELETE, even from the admin or a shell.
# (TRUNCATE, used only by the test suite's flush, is a statement-level operation
# that row triggers do not see.)
SQL = """
CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION memoryweb_refuse_change();
"""
REVERSE_SQL = "DROP TRIGGER IF EXISTS auditevent_append_only ON audit_auditevent;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("memories", "0002_append_only_triggers")]
    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
