from django.db import migrations


def create_vector_extension(apps, schema_editor):
    from apps.core.pgvector import ensure_vector_extension

    ensure_vector_extension(schema_editor.connection)


class Migration(migrations.Migration):
    # The memory tables use the vector type, so this runs before any of them.
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_vector_extension, migrations.RunPython.noop)]
