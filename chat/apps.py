from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        # Imported here, not at module level: these modules need the app registry ready.
        import chat.local_llm  # noqa: F401  registers the `local` backend
        from chat.llm import llm_status
        from chat.services import answers_forget_document
        from config.health import register_check
        from ingestion.hooks import document_forgetter_register

        register_check("llm", llm_status)
        # A deleted document's text goes from answer traces and citations too (ingestion.hooks).
        document_forgetter_register("chat.answers", lambda document_id: answers_forget_document(document_id=document_id))
