from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Create an API token for USERNAME (printed once, on the last line), or --revoke one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument("--name", default="", help="a label to recognise the token by")
        parser.add_argument("--revoke", metavar="TOKEN_PREFIX", help="revoke the token(s) starting with this")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["revoke"]:
            try:
                count = api_token_revoke(prefix=options["revoke"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            if count == 0:
                raise CommandError(f"no active token starts with {options['revoke']!r}")
            self.stdout.write(f"revoked {count} token(s)")
            return
        if not options["username"]:
            raise CommandError("give a USERNAME, or --revoke TOKEN_PREFIX")
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        _, raw = api_token_create(user=user, name=options["name"])
        self.stderr.write(f"Token for {user.username} (store it now; it is not shown again):")
        self.stdout.write(raw)
