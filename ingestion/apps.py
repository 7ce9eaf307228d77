from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Documents and ingestion"

    def ready(self) -> None:
        # Imported here, not at module level: models and services need the app registry ready.
        from django.db.models.signals import post_migrate

        from ingestion import tasks  # noqa: F401  (registers the task services enqueue by name)
        from ingestion.services import collection_default_ensure_on_migrate

        post_migrate.connect(collection_default_ensure_on_migrate, sender=self, dispatch_uid="ingestion.default_collection")
