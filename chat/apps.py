from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from chat.llm import llm_status
        from config.health import register_check

        register_check("llm", llm_status)
