from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "retrieval"

    def ready(self) -> None:
        # Imported here, not at module level: these modules need the app registry ready.
        from config.health import register_check
        from retrieval.rerank import reranker_status

        register_check("reranker", reranker_status)
