"""manage.py grant_app_role ROLE: give the application's database role what it needs, and no
ownership of the audit trail (see reviews/audit_roles.py and the README's deployment section)."""

from django.core.management.base import BaseCommand, CommandError

from reviews.audit_roles import app_role_grant, role_owns_audit_tables


class Command(BaseCommand):
    help = (
        "Run as the tables' owner after every migrate: grant ROLE (the role the web servers and "
        "workers connect as) the application's tables, append-only access to the audit trail "
        "and no TRUNCATE. Refuses a role that owns the audit tables."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the application's database role, e.g. lamina_app")

    def handle(self, *args, role, **options):
        try:
            if role_owns_audit_tables(role):
                raise CommandError(
                    f"{role} owns the audit tables (or is a superuser): it could disable their "
                    "triggers. Connect the application as a role that owns nothing."
                )
            statements = app_role_grant(role)
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"granted {role}: {len(statements)} statement(s)")
