"""Every Lamina command in the READMEs' code blocks runs as written after `./lamina run` set up once.

On a copy of the repository's tracked files (the checkout's own `.env` and `var/` are never
touched), `./lamina run --port N` sets up and serves with its embedded defaults (SQLite, eager
Celery) in a shell that has only PATH, HOME and LANG; once it answers on that port it is stopped.
Then each README code line that is a Lamina command runs in a fresh shell of the same kind and
must exit 0. The long-running commands (run, test, bench, docker compose) are not among them.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from hashlib import sha256
from pathlib import Path

import pytest

from tests.conftest import REPO

READMES = sorted(
    path
    for path in subprocess.run(
        ["git", "ls-files", "*README.md"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
)
# A line of a code block that runs Lamina: its script, its Python, or a management command.
LAMINA_COMMAND = re.compile(r"^(\./lamina\b|\.venv/bin/python\b|python3? (manage\.py|-m bench)\b)")
LONG_RUNNING = re.compile(r"^(\./lamina (run|test|bench)\b|.*\b-m bench\b)")


def fenced_lines(text: str) -> list[str]:
    """The lines of the fenced code blocks, continuation lines (ending in a backslash) joined."""
    lines: list[str] = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            lines.append((pending + line).strip())
            pending = ""
    return lines


def readme_commands() -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for line in fenced_lines((REPO / readme).read_text()):
            if LAMINA_COMMAND.match(line):
                found.append((readme, line))
    return found


def test_the_readmes_show_lamina_commands_and_the_run_command():
    commands = [line for _, line in readme_commands()]
    assert any(line.startswith("./lamina run") for line in commands)
    assert any("manage.py verify_audit" in line for line in commands)
    assert len([c for c in commands if not LONG_RUNNING.match(c)]) >= 3


def fresh_env(home: Path) -> dict[str, str]:
    """A new user's shell: no DATABASE_URL, REDIS_URL, SECRET_KEY or DEBUG from this test run."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def set_up_once(served):
    """A copy of the tracked files where `./lamina run --port N` set up and serves."""
    clone, home, output, _port = served
    return clone, home, output


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A copy of the tracked files where `./lamina run --port N` set up and serves; stopped at the
    end of the module."""
    venv = REPO / ".venv"
    stamp = venv / ".lamina-installed"
    # The copy shares the checkout's virtual environment: it must not reinstall into it.
    assert stamp.read_text().strip() == sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    clone = tmp_path_factory.mktemp("readme") / "lamina"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source = REPO / name.decode()
        if source.is_file():
            target = clone / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (clone / ".venv").symlink_to(venv)
    home = clone.parent / "home"
    home.mkdir()
    port = free_port()
    log = clone.parent / "run.log"
    server = subprocess.Popen(
        ["./lamina", "run", "--port", str(port)],
        cwd=clone,
        env=fresh_env(home),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, log.read_text()[-4000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as page:
                    if page.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(1)
        yield clone, home, log.read_text(), port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_lamina_run_serves_on_the_port_asked_and_writes_the_local_settings(set_up_once):
    clone, _home, output = set_up_once
    assert re.search(r"Lamina on http://127\.0\.0\.1:\d+", output)
    dotenv = (clone / ".env").read_text()
    assert re.search(r"^DEBUG=1$", dotenv, flags=re.MULTILINE)
    assert re.search(r"^SECRET_KEY=\S{40,}$", dotenv, flags=re.MULTILINE)
    assert "lamina-dev-only-key" not in dotenv


@pytest.mark.parametrize(
    ("readme", "command"),
    [pair for pair in readme_commands() if not LONG_RUNNING.match(pair[1])],
    ids=lambda value: value[:60],
)
def test_a_readme_command_runs_as_written(set_up_once, readme, command):
    clone, home, _output = set_up_once
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=fresh_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{readme}: {command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )


def test_lamina_run_says_how_to_choose_the_port_and_host():
    result = subprocess.run(
        ["./lamina", "run", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "--port" in result.stdout and "--host" in result.stdout
    assert "PORT" in result.stdout and "HOST" in result.stdout


@pytest.mark.parametrize("arguments", [["--port", "abc"], ["--port", "70000"], ["--bogus"]])
def test_lamina_run_refuses_a_bad_port_or_option_before_doing_anything(arguments):
    result = subprocess.run(
        ["./lamina", "run", *arguments], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "usage" in result.stderr or "port" in result.stderr


# --- The README's curl examples, against what `./lamina run` serves ----------------------------

LOCAL = "127.0.0.1:8000"


def curl_commands(text: str) -> list[str]:
    """The curl commands of the sh blocks that talk to the local server: each from its `curl`
    line to the next command (continuation lines and quoted multi-line bodies included); the
    `NAME=...` placeholder lines are what the reader fills in, as the test does."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        if LOCAL not in block:
            continue
        current: list[str] | None = None
        for line in block.splitlines():
            if line.startswith("curl "):
                current = [line]
                commands.append(current)  # type: ignore[arg-type]
            elif re.match(r"^([A-Z_]+=|#)", line) or not line.strip():
                current = None
            elif current is not None:
                current.append(line)
    return ["\n".join(c) for c in commands]  # type: ignore[arg-type]


def json_values(text: str) -> list:
    """The JSON documents a command printed one after another."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, end = decoder.raw_decode(text, at)
        values.append(value)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def _get(port: int, path: str, token: str):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310 (an http URL built above)
        return json.load(answer)


def test_the_readme_shows_curl_examples_for_each_kind_of_user():
    commands = curl_commands((REPO / "README.md").read_text())
    assert any("--data @docs/api/examples/" in c for c in commands)
    assert any("/audit/" in c for c in commands)
    assert any("/appeal/" in c for c in commands)
    assert any("/fhir/Claim/" in c for c in commands)


def test_the_readme_curl_examples_answer_as_documented(served):
    clone, home, output, port = served
    tokens = dict(re.findall(r"^\s+(provider_a|auditor)\s+([0-9a-f]{40})\s*$", output, re.M))
    assert set(tokens) == {"provider_a", "auditor"}, output[-3000:]
    env = {**fresh_env(home), "TOKEN": tokens["provider_a"], "AUDITOR_TOKEN": tokens["auditor"]}
    denied = _get(port, "/api/v1/requests/?status=denied", tokens["provider_a"])["results"]
    assert denied, "the demo data has a denied request of provider_a to appeal"
    submitted = None
    seen = set()
    for command in curl_commands((REPO / "README.md").read_text()):
        command = command.replace(LOCAL, f"127.0.0.1:{port}")
        if "/requests/ID/appeal/" in command:
            command = command.replace("/requests/ID/", f"/requests/{denied[0]['id']}/")
        elif "/ID/" in command:
            assert submitted is not None, "an example names ID before one was submitted"
            command = command.replace("/ID/", f"/{submitted}/")
        result = subprocess.run(
            ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        if " -o " in command:
            target = clone / re.search(r" -o (\S+)", command).group(1)
            assert (
                target.read_text().splitlines()[0].startswith("reference,") or target.stat().st_size
            )
            seen.add("csv")
            continue
        answers = json_values(result.stdout)
        assert answers, f"{command}\nno answer: {result.stdout[-2000:]}"
        for answer in answers:
            assert "code" not in answer or "message" not in answer, f"{command}\n{answer}"
        first = answers[0]
        if command.startswith(f"curl -s http://127.0.0.1:{port}/api/v1/requests/ \\"):
            assert first["status"] in {
                "received",
                "evaluating",
                "approved",
                "pending_information",
                "nurse_review",
                "physician_review",
            }, first
            submitted = first["id"]
            seen.add("submit")
        elif "/appeal/" in command:
            assert first["due_at"] and first["status"], first
            seen.add("appeal")
        elif "/history/" in command:
            assert first["request"]["id"] == submitted, first
            seen.add("history")
        elif "/fhir/Claim/" in command:
            assert first["resourceType"] == "Bundle", first
            assert any(e["resource"]["resourceType"] == "ClaimResponse" for e in first["entry"])
            seen.add("fhir")
        elif f"/requests/{submitted}/" in command:
            assert first["id"] == submitted and first["recommendation"], first
            seen.add("detail")
    assert seen == {"submit", "detail", "history", "csv", "appeal", "fhir"}, seen
