"""docker-compose.yml: the services a deployment needs, one image, commands that exist.

The suite cannot start Docker; it reads the file and checks each command against the code.
"""

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service["command"]
    if isinstance(command, str):
        return shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2])
    return list(command)


def test_the_services_of_a_deployment_exist(compose):
    assert {"db", "redis", "web", "worker", "beat"} <= set(compose["services"])
    assert compose["services"]["db"]["image"].startswith("postgres")
    assert compose["services"]["redis"]["image"].startswith("redis")


def test_web_worker_and_beat_share_one_image_and_one_environment(compose):
    services = [compose["services"][name] for name in APP_SERVICES]

    assert len({s["image"] for s in services}) == 1
    assert len({repr(s["build"]) for s in services}) == 1
    assert all(s["environment"] == services[0]["environment"] for s in services)
    env = services[0]["environment"]
    assert "@db:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["DEBUG"] == "0" and env["SECRET_KEY"]
    assert (REPO / services[0]["build"] / "Dockerfile").is_file()


def test_every_service_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    assert services["db"]["healthcheck"] and services["redis"]["healthcheck"]
    assert services["web"]["healthcheck"] and services["worker"]["healthcheck"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    # The worker and beat need the tables the web service migrates.
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["beat"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_migrates_loads_policies_then_serves_the_wsgi_app(compose):
    words = command_words(compose["services"]["web"])
    text = " ".join(words)

    assert text.index("migrate") < text.index("load_policies") < text.index("gunicorn")
    commands = get_commands()
    for index, word in enumerate(words):
        if word == "manage.py":
            assert words[index + 1] in commands, words[index + 1]
    target = words[words.index("gunicorn") + 1]
    module, attribute = target.split(":")
    assert module == "config.wsgi"
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize(("service", "verb"), [("worker", "worker"), ("beat", "beat")])
def test_worker_and_beat_run_the_config_celery_app(compose, service, verb):
    words = command_words(compose["services"][service])

    assert words[:4] == ["celery", "-A", "config", verb]
    app = importlib.import_module("config").celery_app
    importlib.import_module("reviews.tasks")
    assert app.main == "lamina"
    assert "reviews.tasks.run_evidence_checks" in app.tasks


def test_beat_has_a_schedule_for_the_sweep_and_the_clocks():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in tasks:
        module, name = task.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), task


def test_the_dockerfile_serves_the_same_wsgi_app_by_default():
    dockerfile = (REPO / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert '"config.wsgi:application"' in dockerfile
    assert "collectstatic" in dockerfile
