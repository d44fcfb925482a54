"""manage.py seal_audit: seal the committed audit events now; optionally sign a checkpoint."""

import json

from django.core.management.base import BaseCommand, CommandError

from reviews.audit import audit_seal
from reviews.audit_sign import checkpoint_publish


class Command(BaseCommand):
    help = (
        "Seal every committed, unsealed audit event (one checkpoint per batch). With --publish, "
        "also sign the newest checkpoint with AUDIT_SIGNING_KEY, write it to AUDIT_CHECKPOINT_DIR "
        "and print it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--publish", action="store_true", help="sign and write a checkpoint")

    def handle(self, *args, publish=False, **options):
        result = audit_seal()
        if result.busy:
            self.stdout.write("another sealer is running; it seals the backlog")
        self.stdout.write(f"sealed {result.sealed} event(s) in {result.checkpoints} batch(es)")
        if publish:
            from django.conf import settings

            if not settings.AUDIT_SIGNING_KEY:
                raise CommandError("AUDIT_SIGNING_KEY is not set: nothing can be signed")
            body = checkpoint_publish()
            if body is None:
                self.stdout.write("the newest checkpoint is already signed")
            else:
                self.stdout.write("signed checkpoint: " + json.dumps(body, sort_keys=True))
