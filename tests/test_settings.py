"""Settings that guard production: what is mounted and what is refused by default."""

import importlib

from django.urls import clear_url_caches

import config.urls


def test_the_benchmark_floor_is_mounted_only_when_asked_for(settings):
    try:
        settings.BENCH_FLOOR = False
        patterns = importlib.reload(config.urls).urlpatterns
        assert not any("_floor" in str(p.pattern) for p in patterns)
        settings.BENCH_FLOOR = True
        patterns = importlib.reload(config.urls).urlpatterns
        assert any("_floor" in str(p.pattern) for p in patterns)
    finally:
        importlib.reload(config.urls)
        clear_url_caches()
