"""Run `verify_audit` in this process and print its time and memory as JSON.

Started by the bench as a subprocess of its own so that the memory measured is the walk's: the
resident set is sampled every 20 ms while the command runs, and compared with the resident set
just before it started (Django and Lamina loaded). ru_maxrss, the process's lifetime peak, is
reported too.
"""

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mib()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_mib())
            time.sleep(0.02)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from reviews.models import AuditEvent

    events = AuditEvent.objects.count()
    before = _rss_mib()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    call_command("verify_audit", stdout=sys.stderr)
    seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    print(
        json.dumps(
            {
                "events": events,
                "seconds": round(seconds, 2),
                "events_per_second": round(events / seconds) if seconds else None,
                "rss_mib_before_walk": round(before, 1),
                "rss_mib_peak_during_walk": round(sampler.peak, 1),
                "rss_mib_walk_growth": round(sampler.peak - before, 1),
                # Linux reports ru_maxrss in KiB.
                "maxrss_mib_process": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
