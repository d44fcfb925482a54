"""The database roles of a deployment: an owner that migrates, an app role that does not own.

PostgreSQL lets a table's owner (and a superuser) disable its triggers, so the role the web
servers and workers connect as must not own the audit tables: it gets exactly what the
application needs and nothing that could erase or rewrite the trail.

- The owner role (used by `migrate` and `load_policies` only) owns every table.
- The app role may SELECT, INSERT, UPDATE and DELETE the application's tables; on the audit
  events only SELECT, INSERT and UPDATE of the three seal columns (the trigger still allows that
  update once, on an unsealed row); on the checkpoints only SELECT and INSERT; on Django's
  migration records only SELECT. No TRUNCATE anywhere, and, not owning anything, it can neither
  disable a trigger nor drop one.

app_role_grant() is idempotent: run it (`manage.py grant_app_role <role>`) as the owner after
every `migrate`, so the tables a migration adds are granted too.
"""

from django.db import connection

AUDIT_EVENTS = "reviews_auditevent"
AUDIT_CHECKPOINTS = "reviews_auditcheckpoint"
SEAL_COLUMNS = ("position", "prev_hash", "hash")
READ_ONLY = ("django_migrations",)


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _role_exists(role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            raise ValueError(f"there is no database role {role!r}: create it first")


def app_role_grant(role: str) -> list[str]:
    """Grant `role` what the application needs in the current schema; returns the statements."""
    if connection.vendor != "postgresql":
        raise RuntimeError("database roles are a PostgreSQL deployment's concern")
    _role_exists(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = _quoted(cursor.fetchone()[0])
    who = _quoted(role)
    appendonly = f"{_quoted(AUDIT_EVENTS)}, {_quoted(AUDIT_CHECKPOINTS)}"
    read_only = ", ".join(_quoted(t) for t in READ_ONLY)
    seal = ", ".join(_quoted(c) for c in SEAL_COLUMNS)
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        f"REVOKE INSERT, UPDATE, DELETE ON {read_only} FROM {who}",
        f"REVOKE UPDATE, DELETE ON {appendonly} FROM {who}",
        f"GRANT UPDATE ({seal}) ON {_quoted(AUDIT_EVENTS)} TO {who}",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


def role_owns_audit_tables(role: str) -> bool:
    """Whether `role` owns (or, as a superuser, may act as owner of) either audit table."""
    _role_exists(role)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_or(pg_has_role(%s, c.relowner, 'USAGE')) FROM pg_class c "
            "WHERE c.relname IN (%s, %s) AND c.relkind = 'r'",
            [role, AUDIT_EVENTS, AUDIT_CHECKPOINTS],
        )
        return bool(cursor.fetchone()[0])
