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
    assert {"db", "redis", "migrate", "web", "worker", "beat"} <= set(compose["services"])
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
        # Every service needs the tables the migrate service creates and grants.
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def _database_user(url: str) -> str:
    return re.match(r"postgres://([^:@]+)", url).group(1)


def test_migrate_owns_the_tables_and_grants_the_app_role_that_serves(compose):
    services = compose["services"]
    words = command_words(services["migrate"])
    text = " ".join(words)

    assert text.index("migrate") < text.index("load_policies") < text.index("grant_app_role")
    commands = get_commands()
    for index, word in enumerate(words):
        if word == "manage.py":
            assert words[index + 1] in commands, words[index + 1]
    owner = _database_user(services["migrate"]["environment"]["DATABASE_URL"])
    app = _database_user(services["web"]["environment"]["DATABASE_URL"])
    # The app role is the one granted, and it is not the role that owns the tables.
    assert words[words.index("grant_app_role") + 1] == app
    assert owner != app and "postgres" not in (owner, app)
    assert services["db"]["environment"]["POSTGRES_USER"] not in (owner, app)
    # The database's init script creates both, neither a superuser, and gives the owner the
    # database and its schema.
    (mount,) = [v for v in services["db"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    init = "".join(p.read_text() for p in sorted((REPO / mount.split(":")[0]).glob("*.sh")))
    for role in (owner, app):
        assert re.search(rf"CREATE ROLE {role} LOGIN NOSUPERUSER", init), role
    assert f'ALTER DATABASE :"DBNAME" OWNER TO {owner}' in init
    assert f"ALTER SCHEMA public OWNER TO {owner}" in init


def test_web_serves_the_wsgi_app(compose):
    words = command_words(compose["services"]["web"])
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


def test_beat_runs_the_audit_sealer_every_second_and_publishes_signed_checkpoints():
    from django.conf import settings

    from config.celery_app import app

    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["reviews.audit_tasks.seal_audit"] == 1.0
    assert "reviews.audit_tasks.publish_audit_checkpoint" in schedule
    # The worker knows both tasks (autodiscovered from reviews/audit_tasks.py).
    app.loader.import_default_modules()
    assert {
        "reviews.audit_tasks.seal_audit",
        "reviews.audit_tasks.publish_audit_checkpoint",
    } <= set(app.tasks)


def test_the_audit_checkpoints_live_on_a_volume_outside_the_database(compose):
    services = compose["services"]
    directory = services["worker"]["environment"]["AUDIT_CHECKPOINT_DIR"]
    for name in ("worker", "web"):
        assert any(v.endswith(":" + directory) for v in services[name]["volumes"]), name
    assert not any(directory in v for v in services["db"]["volumes"])


def test_the_dockerfile_serves_the_same_wsgi_app_by_default():
    dockerfile = (REPO / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert '"config.wsgi:application"' in dockerfile
    assert "collectstatic" in dockerfile
