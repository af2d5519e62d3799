from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class RetrievalConfig(AppConfig):
    name = "apps.retrieval"
    label = "retrieval"

    def ready(self) -> None:
        from apps.retrieval import receivers  # noqa: F401 (connects them)
        from apps.retrieval.storage import follow_setting, refuse_mismatched_database

        # The embedding column follows MEMORYWEB_VECTOR_STORAGE: converted after migrate
        # while it holds no vectors, else every process refuses a mismatched database.
        post_migrate.connect(follow_setting, sender=self)
        connection_created.connect(refuse_mismatched_database)

        # Fail at startup, not at the first write, when the configured backend cannot
        # fill the vector column. This does not load the model.
        from apps.retrieval.embedding import get_backend

        get_backend()
