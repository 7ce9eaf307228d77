from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from accounts.services import api_token_create, api_token_revoke
from config.commands import AppCommand
from ingestion.models import Collection


class Command(AppCommand):
    help = (
        "Create an API token for USERNAME (printed once, on the last line), optionally --read-only "
        "and/or limited to --collections a,b; or --revoke one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument("--name", default="", help="a label to recognise the token by")
        parser.add_argument(
            "--read-only", action="store_true", help="search and chat only: no upload, delete or other change"
        )
        parser.add_argument("--collections", metavar="SLUGS", help="comma-separated collections the token may read")
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
        collections = _collections(options["collections"]) if options["collections"] is not None else None
        _, raw = api_token_create(user=user, name=options["name"], read_only=options["read_only"], collections=collections)
        narrowing = [
            *(["read-only"] if options["read_only"] else []),
            *([f"collections {', '.join(c.slug for c in collections)}"] if collections is not None else []),
        ]
        self.stderr.write(
            f"Token for {user.username}{' (' + '; '.join(narrowing) + ')' if narrowing else ''} "
            "(store it now; it is not shown again):"
        )
        self.stdout.write(raw)


def _collections(option: str) -> list[Collection]:
    slugs = [s.strip() for s in option.split(",") if s.strip()]
    if not slugs:
        raise CommandError("--collections needs at least one collection slug")
    found = {c.slug: c for c in Collection.objects.filter(slug__in=slugs, kind=Collection.Kind.USER)}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise CommandError(f"no collection named {', '.join(map(repr, missing))}")
    return [found[s] for s in slugs]
