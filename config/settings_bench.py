"""Settings of the benchmark's servers (bench/): production settings plus the floor.

The floor (app `benchfloor`, POST /api/v1/_floor/) is a measuring instrument: the same
authentication, throttle, parsing and rendering as intake and one INSERT, nothing of Lamina's own
work. It stores whatever a provider sends, so it is installed and migrated only here, never in
config.settings.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchfloor"]
BENCH_FLOOR = True
