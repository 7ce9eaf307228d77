from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self) -> None:
        # Imported here, not at module level: these modules need the app registry ready.
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import post_migrate

        from accounts.services import admin_ensure_on_migrate
        from accounts.signals import on_user_logged_in, on_user_login_failed

        post_migrate.connect(admin_ensure_on_migrate, sender=self)
        user_logged_in.connect(on_user_logged_in, dispatch_uid="accounts.audit.sign_in")
        user_login_failed.connect(on_user_login_failed, dispatch_uid="accounts.audit.sign_in_failed")
