"""register_smart_client --user USERNAME (--jwks FILE | --jwks-url URL) [--client-id ID]
[--scope SCOPE ...]: register an EHR for SMART Backend Services and print its client id."""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from pas.smart import SCOPES, smart_client_register


class Command(BaseCommand):
    help = "Register a SMART Backend Services client (its public JWKS) acting as a provider user."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The provider user the client acts as.")
        keys = parser.add_mutually_exclusive_group(required=True)
        keys.add_argument("--jwks", help='A file holding {"keys": [...]}.')
        keys.add_argument(
            "--jwks-url",
            default="",
            help="Where the client publishes its keys (https); read when it asks a token.",
        )
        parser.add_argument("--client-id", default="", help="The client id (default: a UUID).")
        parser.add_argument("--name", default="", help="A name for the administrator's list.")
        parser.add_argument(
            "--scope",
            action="append",
            help=f"A scope the client may ask (repeatable; default: {' '.join(SCOPES)}).",
        )

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        jwks = None
        if options["jwks"]:
            try:
                with open(options["jwks"], encoding="utf-8") as handle:
                    jwks = json.load(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read a JWKS from {options['jwks']}: {exc}") from exc
        try:
            client = smart_client_register(
                user=user,
                jwks=jwks,
                jwks_url=options["jwks_url"],
                scopes=options["scope"],
                client_id=options["client_id"],
                name=options["name"],
            )
        except ValidationError as exc:
            messages = [f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms]
            raise CommandError("; ".join(messages)) from exc
        self.stdout.write(client.client_id)
