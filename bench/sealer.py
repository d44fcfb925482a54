"""The audit sealer of a bench run: audit_seal() every second, as the beat task does deployed.

The bench runs this instead of Celery beat: beat's sweep would re-enqueue the bulk-loaded open
cases (thousands of them look stalled in `evaluating`) and its clock marking would walk 100,000
requests, and either would keep the worker busy with work that is not the load measured. The
sealer runs in a process of its own here; deployed, its beat task runs on a worker.
"""

import time

import django


def main() -> None:
    django.setup()
    from django.db import close_old_connections

    from reviews.audit import audit_seal

    while True:
        started = time.monotonic()
        audit_seal()
        close_old_connections()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
