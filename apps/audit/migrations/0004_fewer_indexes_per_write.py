import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Fewer index entries for every write: foreign key indexes that another index
# already leads with, and the actor indexes made partial (apps/audit/actors.py).
DROPPED = [
    ("audit_auditevent_actor_token_id_3155b3dc", 'audit_auditevent ("actor_token_id")'),
    ("audit_auditevent_actor_user_id_e6b6b356", 'audit_auditevent ("actor_user_id")'),
    ("audit_auditevent_space_id_7d3da98b", 'audit_auditevent ("space_id")'),
]


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_allow_redaction"),
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
                    model_name="auditevent",
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
                    model_name="auditevent",
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
                    model_name="auditevent",
                    name="space",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="audit_events",
                        to="spaces.space",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("actor_user__isnull", False)),
                fields=["actor_user"],
                name="auditevent_actor_user",
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("actor_token__isnull", False)),
                fields=["actor_token"],
                name="auditevent_actor_token",
            ),
        ),
    ]
