"""Settings that guard production: what is mounted and what is refused by default."""

import importlib
import json
import os
import subprocess
import sys

from django.urls import clear_url_caches

import config.urls
from tests.conftest import REPO


def test_the_benchmark_floor_is_not_in_production(settings):
    assert "benchfloor" not in settings.INSTALLED_APPS
    assert settings.BENCH_FLOOR is False
    patterns = importlib.reload(config.urls).urlpatterns
    clear_url_caches()
    assert not any("_floor" in str(p.pattern) for p in patterns)


def test_the_bench_settings_install_and_mount_the_floor():
    """config.settings_bench adds the floor app (migrated only there) and its endpoint."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.urls import resolve; "
        "assert 'benchfloor' in settings.INSTALLED_APPS; "
        "print(resolve('/api/v1/_floor/').url_name)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_bench", "LAMINA_DOTENV": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bench-floor"
    check = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "benchfloor", "--check", "--dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _settings_in_a_fresh_process(env: dict) -> subprocess.CompletedProcess:
    """Import config.settings alone under `env` and print the production-relevant values."""
    code = (
        "import json, config.settings as s; print(json.dumps({k: getattr(s, k) for k in "
        "['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'CELERY_TASK_ALWAYS_EAGER']}))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECURE_COOKIES", "SECRET_KEY", "SECURE_HSTS_SECONDS"}
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_defaults_when_debug_is_off():
    result = _settings_in_a_fresh_process({"SECRET_KEY": "k" * 50})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] > 0
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] and values["X_FRAME_OPTIONS"] == "DENY"
    # With REDIS_URL configured (as here), tasks go to the worker, never in-process.
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False


def test_debug_off_without_a_secret_key_refuses_to_start():
    result = _settings_in_a_fresh_process({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
