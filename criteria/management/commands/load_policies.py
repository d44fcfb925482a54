"""Load the shipped criteria policies (criteria/policies/*.yaml); safe to run any number of times."""

from django.core.management.base import BaseCommand, CommandError

from criteria.loader import PolicyError
from criteria.services import policies_sync


class Command(BaseCommand):
    help = "Load the shipped criteria policies; unchanged files create nothing, changed ones a new version."

    def add_arguments(self, parser):
        parser.add_argument("--directory", help="a policy directory other than criteria/policies")

    def handle(self, *args, directory=None, **options):
        try:
            report = policies_sync(directory=directory, actor="load_policies")
        except PolicyError as exc:
            raise CommandError(f"policy refused: {exc}") from exc
        for version in report.created:
            self.stdout.write(f"created {version.label} (effective {version.effective_from})")
        for version in report.retired:
            self.stdout.write(f"retired {version.label}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.versions)} policy versions in force, {len(report.created)} new."
            )
        )
