"""Warm starts: a Celery worker process and the run server load the notes reader and the letter
renderer as they start, before any request; other commands do not."""

import os
import socket
import subprocess
import sys

import pytest
from django.db import connection

from reviews.warm import _wanted_for_command
from tests.conftest import REPO, wait_for


@pytest.mark.parametrize(
    ("argv", "run_main", "wanted"),
    [
        (["manage.py", "runserver", "127.0.0.1:8000"], "true", True),  # the serving child
        (["manage.py", "runserver", "127.0.0.1:8000"], "", False),  # the autoreloader's watcher
        (["manage.py", "runserver", "--noreload"], "", True),
        (["/app/.venv/bin/gunicorn", "config.wsgi:application"], "", True),
        (["/usr/lib/python3/site-packages/gunicorn/__main__.py", "config.wsgi"], "", True),
        (["manage.py", "migrate"], "", False),
        (["manage.py", "verify_audit"], "true", False),
        (["/app/.venv/bin/celery", "-A", "config", "worker"], "", False),  # warmed per process
        (["/app/.venv/bin/pytest"], "", False),
    ],
)
def test_only_processes_that_serve_requests_warm_up(monkeypatch, argv, run_main, wanted):
    monkeypatch.delenv("LAMINA_WARM_START", raising=False)
    monkeypatch.setenv("RUN_MAIN", run_main)
    assert _wanted_for_command(argv) is wanted


def test_the_switch_overrides_the_command(monkeypatch):
    monkeypatch.setenv("LAMINA_WARM_START", "0")
    assert not _wanted_for_command(["manage.py", "runserver", "--noreload"])
    monkeypatch.setenv("LAMINA_WARM_START", "1")
    assert _wanted_for_command(["manage.py", "migrate"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
    )
    env.pop("LAMINA_WARM_START", None)
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", CELERY_TASK_ALWAYS_EAGER="1")
    return env


@pytest.mark.django_db(transaction=True)
def test_the_run_server_loads_the_renderer_and_the_reader_before_any_request(tmp_path):
    log = tmp_path / "runserver.log"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{_free_port()}"],
        cwd=REPO,
        env=_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        # No request is ever sent: both load because the server started.
        wait_for(lambda: "notes reader ready" in log.read_text(), timeout=120)
        text = log.read_text()
        assert "warm start: letter renderer ready" in text
        assert "warm start failed" not in text
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_other_commands_do_not_warm_up():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "warm start" not in result.stdout + result.stderr


def test_a_worker_process_loads_the_reader_when_it_starts(start_worker):
    worker = start_worker(concurrency=1)

    # No task is sent: the pool process loads the reader as it starts.
    wait_for(lambda: "warm start: notes reader ready" in worker.log.read_text(), timeout=120)
    assert "warm start failed" not in worker.log.read_text()
