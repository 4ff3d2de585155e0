"""Print a new API token for a user (shown once; only its hash is kept)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.auth import api_token_create
from arena.models import TOKEN_SCOPES


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label, e.g. 'nightly CI'")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="how long it lasts (default ARENA_API_TOKEN_DAYS, 90; 0: never expires)",
        )
        parser.add_argument(
            "--scope",
            action="append",
            choices=TOKEN_SCOPES,
            help="what it may do: manage (tournaments, contestants, imports), vote (the"
            " battle API); repeatable; default both",
        )

    def handle(
        self, *args: Any, username: str, name: str, days: int | None, **options: Any
    ) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {username!r} (create it with createsuperuser)") from None
        if days is not None and days < 0:
            raise CommandError("--days: a number of days, or 0 for a token that never expires")
        scopes = options["scope"] or TOKEN_SCOPES
        self.stdout.write(api_token_create(user=user, name=name, days=days, scopes=scopes))
