import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Fewer index entries for every write: foreign key indexes that another index
# already leads with, and the actor indexes made partial (apps/audit/actors.py).
DROPPED = [
    ("memories_memory_space_id_2f006dc6", 'memories_memory ("space_id")'),
    ("memories_memoryversion_actor_token_id_ff5140d6", 'memories_memoryversion ("actor_token_id")'),
    ("memories_memoryversion_actor_user_id_e6f36039", 'memories_memoryversion ("actor_user_id")'),
    ("memories_memoryversion_memory_id_b9ab0a6a", 'memories_memoryversion ("memory_id")'),
]


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0011_graph_pending"),
        ("spaces", "0002_membership_visits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Only the indexes change; Django would also drop and validate again each
        # foreign key, a scan of the table each.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name, _ in DROPPED],
                    [
                        f'CREATE INDEX IF NOT EXISTS "{name}" ON {definition}'
                        for name, definition in DROPPED
                    ],
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="memory",
                    name="space",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memories",
                        to="spaces.space",
                    ),
                ),
                migrations.AlterField(
                    model_name="memoryversion",
                    name="actor_token",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="spaces.apitoken",
                    ),
                ),
                migrations.AlterField(
                    model_name="memoryversion",
                    name="actor_user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="memoryversion",
                    name="memory",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="versions",
                        to="memories.memory",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="memoryversion",
            index=models.Index(
                condition=models.Q(("actor_user__isnull", False)),
                fields=["actor_user"],
                name="memoryversion_actor_user",
            ),
        ),
        migrations.AddIndex(
            model_name="memoryversion",
            index=models.Index(
                condition=models.Q(("actor_token__isnull", False)),
                fields=["actor_token"],
                name="memoryversion_actor_token",
            ),
        ),
    ]
