from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.services import admin_ensure_on_migrate

        post_migrate.connect(admin_ensure_on_migrate, sender=self)
