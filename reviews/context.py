"""Who is acting and from where, for the audit trail, without passing the HTTP request down.

The middleware sets the source address for the duration of one HTTP request; Celery tasks and
management commands run with none.
"""

from contextvars import ContextVar

source_ip: ContextVar[str | None] = ContextVar("source_ip", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = source_ip.set(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            source_ip.reset(token)
