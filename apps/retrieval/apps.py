from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "apps.retrieval"
    label = "retrieval"

    def ready(self) -> None:
        from apps.retrieval import receivers  # noqa: F401 (connects them)

        # Fail at startup, not at the first write, when the configured backend cannot
        # fill the vector column. This does not load the model.
        from apps.retrieval.embedding import get_backend

        get_backend()
