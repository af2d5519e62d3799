from django.apps import AppConfig


class ConsolidationConfig(AppConfig):
    name = "apps.consolidation"
    label = "consolidation"

    def ready(self) -> None:
        from apps.consolidation import receivers  # noqa: F401 (connects them)
