"""manage.py verify_audit: walk the audit chain; exit 1 at the first broken or missing link."""

from django.core.management.base import BaseCommand, CommandError

from reviews.audit_verify import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain in constant memory. Prints the number of events and "
        "the head hash on success; names the first broken or altered event and exits non-zero "
        "otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            help="a head hash recorded earlier: fail if it is no longer in the chain",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="rows fetched per round trip"
        )

    def handle(self, *args, anchor=None, chunk_size=2000, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        report = audit_chain_verify(chunk_size=chunk_size, anchor=anchor)
        if not report.ok:
            raise CommandError(
                f"audit chain FAILED: {report.problem}; {report.count} event(s) verified before it"
            )
        self.stdout.write(
            f"audit chain OK: {report.count} event(s) verified; head {report.head_hash}"
        )
