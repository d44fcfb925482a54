"""`./lamina bench`: measure Lamina under gunicorn and a Celery worker, on PostgreSQL and Redis.

One run, in this order (see bench/README.md for what each figure means):
1. A fresh database (dropped and created: the audit table refuses DELETE and TRUNCATE), migrated,
   with the shipped policies, a cast of users, and three template requests made by the real
   services from the shared examples.
2. Queue scale: the reviewer queue page and the provider list endpoint, timed and their queries
   counted in-process (Django test Client on the same database) with 1,000 and with 100,000
   requests on file; the query plans of the queue page are kept.
3. With gunicorn (2 workers), a Celery worker and the audit sealer running: intake
   (POST /api/v1/requests/) and its floor (POST /api/v1/_floor/: authenticate, parse, insert one
   row) at concurrency 1, 8 and 32; a no-op Celery task round trip (the queue floor); end to end,
   submit to recommendation at a sustained rate; the SQL statements of one submission.
4. Scale-out: with 1 and 2 web servers (gunicorn, 2 workers each, the client balancing across
   them) and 1 and 2 Celery workers (2 processes each) on the same PostgreSQL and Redis: intake,
   the floor, and evaluated requests per second (submission to recommendation, sustained).
5. Audit: the trail is topped up to 1,000,000 events and `verify_audit` walks it in a process of
   its own, timed, with its peak memory.

Results go to bench/results/bench-<UTC time>.json, and a Markdown summary is printed.
--phase-seconds and --scale-seconds bound the load phases (see --help).
"""

import argparse
import http.client
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "api" / "examples"
RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLE_NAMES = (
    "esi-lumbar-radiculopathy",
    "rfa-lumbar-after-two-blocks",
    "fusion-spondylolisthesis-short-therapy",
)
# The bench's traffic comes from one provider token far faster than any clinic sends: the per-token
# rate limit is lifted for the servers it starts (the limit itself is tested in the suite).
BENCH_RATE_LIMIT = "100000000/min"
QUEUE = f"lamina-bench-{uuid.uuid4().hex[:8]}"


def say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", flush=True)


# --- Database and settings ------------------------------------------------------------------------


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"]


def reset_database() -> str:
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(database_url())
    name = db["NAME"]
    if "bench" not in name:
        sys.exit(
            f"The bench drops and recreates its database; {name!r} does not look like a bench "
            "database. Point BENCH_DATABASE_URL (or DATABASE_URL) at one whose name contains "
            "'bench', e.g. postgres://postgres@127.0.0.1:5432/lamina_bench."
        )
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        DEBUG="0",
        SECURE_COOKIES="0",
        PROVIDER_RATE_LIMIT=BENCH_RATE_LIMIT,
        CELERY_QUEUE=QUEUE,
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings_bench",  # production settings plus the floor app
    )
    return env


def manage(*args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=server_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def setup_django() -> None:
    os.environ.update(server_env())
    import django

    django.setup()


# --- Machine ----------------------------------------------------------------------------------------


def machine_info() -> dict:
    from django.db import connection

    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kib = re.search(r"MemTotal:\s+(\d+)", meminfo)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    import redis

    redis_version = redis.Redis.from_url(os.environ["REDIS_URL"]).info().get("redis_version")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(total_kib.group(1)) / 1024 / 1024, 1) if total_kib else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg_version,
        "redis": redis_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
    }


# --- The cast and the template requests ---------------------------------------------------------


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIXED_DATES = {"birth_date", "planned_date"}


def _shift_dates(value, days: int, key: str = ""):
    """Every clinical date moved `days` earlier: order and durations kept, nothing in the future."""
    if isinstance(value, dict):
        return {k: _shift_dates(v, days, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, days, key) for v in value]
    if isinstance(value, str) and _DATE.match(value) and key not in _FIXED_DATES:
        return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
    return value


class Bodies:
    """Realistic intake bodies: the three shared examples with their members and dates varied."""

    def __init__(self, seed: int) -> None:
        self.examples = [example(name) for name in EXAMPLE_NAMES]
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.count = 0

    def next(self) -> bytes:
        with self.lock:
            self.count += 1
            n = self.count
            body = self.rng.choice(self.examples)
            days = self.rng.randrange(0, 21)
        body = _shift_dates(body, days)
        body["member"] = {**body["member"], "member_id": f"IN{QUEUE[-8:]}{n:07d}"}
        body["external_id"] = f"BENCH-{n:07d}"
        return json.dumps(body).encode()


def make_cast():
    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from bench.loader import Cast, Template
    from reviews.models import Evaluation, Organization, PriorAuthRequest, Role
    from reviews.roles import user_create
    from reviews.services.checks import evidence_checks_run
    from reviews.services.intake import request_submit

    password = uuid.uuid4().hex + "Aa1!"
    organizations = [
        Organization.objects.create(name=f"Bench Spine Clinic {i}", npi="1679576722")
        for i in range(10)
    ]
    providers = [
        user_create(
            username=f"bench_provider_{i}", password=password, role=Role.PROVIDER, organization=org
        )
        for i, org in enumerate(organizations)
    ]
    nurses = [
        user_create(username=f"bench_nurse_{i}", password=password, role=Role.NURSE)
        for i in range(4)
    ]
    physicians = [
        user_create(username=f"bench_physician_{i}", password=password, role=Role.PHYSICIAN)
        for i in range(3)
    ]
    templates = []
    for i, name in enumerate(EXAMPLE_NAMES):
        body = example(name)
        body["member"]["member_id"] = f"TPL{i}"
        pa_request = request_submit(actor=providers[0], data=body)
        evidence_checks_run(pa_request=pa_request)
        pa_request = PriorAuthRequest.objects.get(pk=pa_request.pk)
        evaluation = Evaluation.objects.filter(request=pa_request).order_by("-round").first()
        templates.append(Template(pa_request, evaluation, list(pa_request.lines.all())))
    cast = Cast(organizations, providers, nurses, physicians, templates)
    for template in templates:
        if template.evaluation is not None:
            cast.by_recommendation.setdefault(template.evaluation.recommendation, []).append(
                template
            )
    token = Token.objects.create(user=providers[0]).key
    counts = dict(PriorAuthRequest.objects.values_list("status").annotate(n=Count("id")).order_by())
    return cast, token, counts


# --- Queue scale (in-process) -----------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def measure_page(client, path: str, runs: int, **headers) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(path, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    with CaptureQueriesContext(connection) as context:
        response = client.get(path, **headers)
    # Read now: the next request's request_started signal clears the connection's query log.
    sql = [q["sql"] for q in context.captured_queries]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path, **headers)
        times.append(time.perf_counter() - started)
    return {
        "median_ms": _ms(statistics.median(times)),
        "p95_ms": _ms(_quantile(times, 95)),
        "min_ms": _ms(min(times)),
        "runs": runs,
        "queries": len(sql),
        "bytes": len(response.content),
        "sql": sql,
    }


def explain(sql_list: list[str]) -> list[dict]:
    """EXPLAIN ANALYZE of the reads on the request table (never a write)."""
    from django.db import connection

    plans = []
    for sql in sql_list:
        if not sql.lstrip().upper().startswith("SELECT") or "reviews_priorauthrequest" not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plans.append({"sql": sql, "plan": [row[0] for row in cursor.fetchall()]})
    return plans


def measure_queue(size_label: str, cast, token: str, runs: int) -> dict:
    from django.test import Client

    from reviews.models import PriorAuthRequest, Status

    nurse_client = Client()
    nurse_client.force_login(cast.nurses[0])
    # A physician's queue spans three statuses (physician review, appeal, nurse review): the
    # ordering by due date cannot come from the (status, due_at) index as the nurse's does.
    physician_client = Client()
    physician_client.force_login(cast.physicians[0])
    provider_client = Client()
    queue = measure_page(nurse_client, "/", runs)
    physician_queue = measure_page(physician_client, "/", runs)
    listing = measure_page(
        provider_client, "/api/v1/requests/", runs, HTTP_AUTHORIZATION=f"Token {token}"
    )
    plans = explain(queue["sql"]) + explain(physician_queue["sql"])
    return {
        "requests_on_file": PriorAuthRequest.objects.count(),
        "in_nurse_queue": PriorAuthRequest.objects.filter(status=Status.NURSE_REVIEW).count(),
        "provider_a_requests": PriorAuthRequest.objects.filter(
            organization=cast.organizations[0]
        ).count(),
        "queue_page": queue,
        "physician_queue_page": physician_queue,
        "provider_list": listing,
        "queue_plans": plans,
        "label": size_label,
    }


# --- HTTP load ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ports:
    """The web servers' ports, handed out in turn: the client side of a round-robin balancer."""

    def __init__(self, ports: "int | list[int] | Ports") -> None:
        self.ports = (
            ports.ports
            if isinstance(ports, Ports)
            else ([ports] if isinstance(ports, int) else list(ports))
        )
        self._next = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            port = self.ports[self._next % len(self.ports)]
            self._next += 1
            return port


def http_call(port, method: str, path: str, body: bytes | None = None, headers=None):
    if isinstance(port, Ports):
        port = port.next()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    except (OSError, http.client.HTTPException) as exc:
        return 0, str(exc).encode(), time.perf_counter() - started
    finally:
        connection.close()


def _quantile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_load(
    port,
    path: str,
    token: str,
    bodies: Bodies,
    *,
    concurrency: int,
    count: int,
    seconds: float,
) -> dict:
    """`concurrency` threads POST until `count` requests are done or `seconds` have passed."""
    port = Ports(port)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    first_error: list[str] = []
    issued = [0]
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= count or time.perf_counter() > deadline:
                    return
                issued[0] += 1
            headers = {
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            status, data, elapsed = http_call(port, "POST", path, bodies.next(), headers)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    latencies.append(elapsed)
                elif not first_error:
                    first_error.append(f"{status}: {data[:300]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ok = len(latencies)
    return {
        "concurrency": concurrency,
        "requests": sum(statuses.values()),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "first_error": first_error[0] if first_error else "",
        "seconds": round(wall, 2),
        "rps": round(ok / wall, 1) if wall else 0.0,
        "p50_ms": _ms(_quantile(latencies, 50)) if ok else None,
        "p95_ms": _ms(_quantile(latencies, 95)) if ok else None,
        "p99_ms": _ms(_quantile(latencies, 99)) if ok else None,
    }


def run_e2e(
    port,
    token: str,
    bodies: Bodies,
    *,
    rate: float,
    seconds: float,
    poll: float = 0.05,
    timeout: float = 120,
) -> dict:
    """Submit at `rate` per second; each submitter polls its request until it has a recommendation."""
    port = Ports(port)
    lock = threading.Lock()
    durations: list[float] = []
    failures: dict[str, int] = {}
    auth = {"Authorization": f"Token {token}"}

    def one() -> None:
        started = time.perf_counter()
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        status, data, _ = http_call(port, "POST", "/api/v1/requests/", bodies.next(), headers)
        if status != 201:
            with lock:
                failures[f"submit {status}"] = failures.get(f"submit {status}", 0) + 1
            return
        request_id = json.loads(data)["id"]
        while time.perf_counter() - started < timeout:
            status, data, _ = http_call(port, "GET", f"/api/v1/requests/{request_id}/", None, auth)
            if status == 200 and json.loads(data).get("recommendation"):
                with lock:
                    durations.append(time.perf_counter() - started)
                return
            time.sleep(poll)
        with lock:
            failures["timeout"] = failures.get("timeout", 0) + 1

    total = max(1, int(rate * seconds))
    threads = []
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    done = len(durations)
    return {
        "rate_per_second": rate,
        "submitted": total,
        "completed": done,
        "failures": failures,
        "poll_interval_ms": _ms(poll),
        "p50_ms": _ms(_quantile(durations, 50)) if done else None,
        "p95_ms": _ms(_quantile(durations, 95)) if done else None,
        "max_ms": _ms(max(durations)) if done else None,
    }


def run_ping(count: int) -> dict:
    """The queue floor: a no-op task's round trip through Redis, the worker and the result backend."""
    from config.celery_app import ping

    ping.apply_async(queue=QUEUE).get(timeout=60)  # the worker's first task warms its pool
    times = []
    for _ in range(count):
        started = time.perf_counter()
        ping.apply_async(queue=QUEUE).get(timeout=60)
        times.append(time.perf_counter() - started)
    return {
        "round_trips": count,
        "p50_ms": _ms(_quantile(times, 50)),
        "p95_ms": _ms(_quantile(times, 95)),
    }


class Servers:
    """`webs` gunicorn servers (2 workers each, a port each), `workers` Celery workers (2
    processes each) and the audit sealer every second (bench/sealer.py), on the bench database
    and a queue of the run's own."""

    def __init__(self, workdir: Path, webs: int = 1, workers: int = 1) -> None:
        self.ports = [free_port() for _ in range(webs)]
        self.port = Ports(self.ports)
        self.workers = workers
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.webs: list[tuple[subprocess.Popen, Path]] = []
        self.celery: list[tuple[subprocess.Popen, Path]] = []

    def _start(self, name: str, args: list[str]) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO,
            env=server_env(),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process, log

    def __enter__(self) -> "Servers":
        for i, port in enumerate(self.ports):
            self.webs.append(
                self._start(
                    f"gunicorn-{i + 1}",
                    [
                        "gunicorn",
                        "config.wsgi:application",
                        "--workers",
                        "2",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--backlog",
                        "2048",
                        "--timeout",
                        "120",
                        "--log-level",
                        "warning",
                    ],
                )
            )
        for i in range(self.workers):
            self.celery.append(
                self._start(
                    f"worker-{i + 1}",
                    [
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        QUEUE,
                        "-n",
                        f"bench{i + 1}-{QUEUE}@%h",
                        "--concurrency",
                        "2",
                        "--pool",
                        "prefork",
                        "--loglevel",
                        "INFO",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ],
                )
            )
        self.sealer = self._start("sealer", ["bench.sealer"])
        # The first worker's log, for what the bench reads of it.
        self.worker_log = self.celery[0][1]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for process, log in [*self.webs, *self.celery, self.sealer]:
                if process.poll() is not None:
                    raise RuntimeError(f"{log.name} exited:\n{log.read_text()[-3000:]}")
            up = all(http_call(port, "GET", "/api/schema/")[0] == 200 for port in self.ports)
            if up and all("ready." in log.read_text() for _, log in self.celery):
                return self
            time.sleep(0.5)
        raise RuntimeError("gunicorn or a Celery worker did not start within 120 s")

    def __exit__(self, *exc) -> None:
        import signal

        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- Statements per submission and scale-out ---------------------------------------------------------


def measure_statements(token: str, bodies: "Bodies") -> dict:
    """One submission in-process (Django's test Client on the bench database): its SQL."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    for _ in range(2):  # warm: connection, caches, the user
        client.post(
            "/api/v1/requests/",
            bodies.next(),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **headers,
        )
    with CaptureQueriesContext(connection) as context:
        response = client.post(
            "/api/v1/requests/",
            bodies.next(),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **headers,
        )
    if response.status_code != 201:
        raise RuntimeError(f"the in-process submission answered {response.status_code}")
    sql = [q["sql"] for q in context.captured_queries]
    return {
        "statements": len(sql),
        "savepoints": sum(1 for q in sql if q.upper().startswith("SAVEPOINT")),
        "sql": sql,
    }


def _evaluated(first: int, last: int) -> tuple[int, datetime | None]:
    """How many of the bench's requests BENCH-first..BENCH-last have their recommendation, and
    when the last of those evaluations was written."""
    from django.db.models import Max

    from reviews.models import Evaluation, PriorAuthRequest

    ids = [f"BENCH-{n:07d}" for n in range(first, last + 1)]
    done = PriorAuthRequest.objects.filter(external_id__in=ids).exclude(recommendation="")
    latest = Evaluation.objects.filter(request__in=done).aggregate(at=Max("created_at"))["at"]
    return done.count(), latest


def run_scaleout(
    servers: Servers, token: str, bodies: "Bodies", *, concurrency: int, seconds: float
) -> dict:
    """Evaluated requests per second, sustained: `concurrency` clients submit for `seconds`
    across every web server; the figure is the requests evaluated (recommendation written)
    divided by the time from the first submission to the last evaluation. Beside it, the floor
    endpoint at the same concurrency on the same servers."""
    from django.utils import timezone

    floor = run_load(
        servers.port,
        "/api/v1/_floor/",
        token,
        bodies,
        concurrency=concurrency,
        count=10**9,
        seconds=seconds,
    )
    first = bodies.count + 1
    started = timezone.now()
    intake = run_load(
        servers.port,
        "/api/v1/requests/",
        token,
        bodies,
        concurrency=concurrency,
        count=10**9,
        seconds=seconds,
    )
    last = bodies.count
    deadline = time.monotonic() + 600
    while True:
        done, latest = _evaluated(first, last)
        if done >= intake["ok"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    span = (latest - started).total_seconds() if latest else None
    return {
        "web_servers": len(servers.ports),
        "celery_workers": servers.workers,
        "concurrency": concurrency,
        "floor_rps": floor["rps"],
        "intake_rps": intake["rps"],
        "intake_p95_ms": intake["p95_ms"],
        "submitted": intake["ok"],
        "evaluated": done,
        "evaluated_rps": round(done / span, 1) if span else None,
        "seconds_to_last_evaluation": round(span, 1) if span else None,
        "errors": {k: v for k, v in intake["statuses"].items() if not k.startswith("2")},
    }


# --- Audit --------------------------------------------------------------------------------------------


def measure_verify() -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.verify_memory"],
        cwd=REPO,
        env=server_env(),
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"verify_audit failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["output"] = completed.stderr.strip().splitlines()[-1]
    return result


# --- The run ------------------------------------------------------------------------------------------


def _ratio(value, base) -> float | None:
    return round(value / base, 2) if value and base else None


def summary_table(results: dict) -> str:
    m = results["machine"]
    rows = [
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, Redis {m['redis']}; commit {m['commit']}, "
        f"{results['started_at']}.",
        "",
        "| measure | figure | baseline | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for level in results["intake"]:
        intake, floor = level["intake"], level["floor"]
        c = intake["concurrency"]
        rows.append(
            f"| intake c={c}: requests/s | {intake['rps']} | floor {floor['rps']} | "
            f"{_ratio(intake['rps'], floor['rps'])} |"
        )
        for q in ("p50", "p95", "p99"):
            rows.append(
                f"| intake c={c}: {q} latency | {intake[q + '_ms']} ms | floor "
                f"{floor[q + '_ms']} ms | {_ratio(intake[q + '_ms'], floor[q + '_ms'])} |"
            )
    e2e, ping = results["end_to_end"], results["celery_ping"]
    for q in ("p50", "p95"):
        rows.append(
            f"| submit to recommendation at {e2e['rate_per_second']}/s: {q} | {e2e[q + '_ms']} ms "
            f"| ping round trip {ping[q + '_ms']} ms | {_ratio(e2e[q + '_ms'], ping[q + '_ms'])} |"
        )
    small, large = results["queue_scale"]["1000"], results["queue_scale"]["100000"]
    for key, name in (
        ("queue_page", "nurse's queue page"),
        ("physician_queue_page", "physician's queue page"),
        ("provider_list", "provider list"),
    ):
        a, b = small[key], large[key]
        rows.append(
            f"| {name}, 100,000 vs 1,000 requests: median time | {b['median_ms']} ms | "
            f"{a['median_ms']} ms | {_ratio(b['median_ms'], a['median_ms'])} |"
        )
        rows.append(
            f"| {name}, 100,000 vs 1,000 requests: queries | {b['queries']} | {a['queries']} | "
            f"{_ratio(b['queries'], a['queries'])} |"
        )
    statements = results.get("statements")
    if statements:
        rows.append(
            f"| SQL statements per submission | {statements['statements']} "
            f"({statements['savepoints']} savepoint) | 33 (13 savepoints) before the rework | |"
        )
    audit = results["audit"]
    rows.append(
        f"| verify_audit over {audit['events']:,} events: time | {audit['seconds']} s | | |"
    )
    rows.append(
        f"| verify_audit: memory growth during the walk (peak resident) | "
        f"{audit['rss_mib_walk_growth']} MiB ({audit['rss_mib_peak_during_walk']} MiB) | "
        f"before the walk {audit['rss_mib_before_walk']} MiB | |"
    )
    if results.get("scale_out"):
        rows += [
            "",
            "| web servers | Celery workers | intake requests/s | floor requests/s | "
            "evaluated requests/s (sustained) | intake p95 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in results["scale_out"]:
            rows.append(
                f"| {row['web_servers']} | {row['celery_workers']} | {row['intake_rps']} | "
                f"{row['floor_rps']} | {row['evaluated_rps']} ({row['evaluated']} of "
                f"{row['submitted']} in {row['seconds_to_last_evaluation']} s) | "
                f"{row['intake_p95_ms']} ms |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and counts: checks the harness end to end in a minute",
    )
    parser.add_argument(
        "--e2e-rate",
        type=float,
        default=1.0,
        help="submissions per second for the end-to-end measure (default 1)",
    )
    parser.add_argument(
        "--phase-seconds",
        type=float,
        help="upper bound of each intake/floor phase (default 30; 10 with --quick)",
    )
    parser.add_argument(
        "--scale-seconds",
        type=float,
        help="submission time of each scale-out configuration (default 20; 8 with --quick)",
    )
    parser.add_argument(
        "--scale-concurrency",
        type=int,
        default=8,
        help="clients submitting during the scale-out measure (default 8)",
    )
    parser.add_argument(
        "--small-data",
        action="store_true",
        help="the load phases at full length over small data (queue scale at 100 and 1,000 "
        "requests, 20,000 audit events): intake, end to end and scale-out only",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    small, large = (100, 1_000) if quick or args.small_data else (1_000, 100_000)
    audit_total = 20_000 if quick or args.small_data else 1_000_000
    counts = {1: 20, 8: 40, 32: 64} if quick else {1: 150, 8: 400, 32: 640}
    phase_seconds = args.phase_seconds or (10 if quick else 30)
    scale_seconds = args.scale_seconds or (8 if quick else 20)
    page_runs = 5 if quick else 25

    run_started = time.monotonic()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    say(f"fresh database {reset_database()}")
    manage("migrate", "--noinput")
    manage("load_policies")
    setup_django()
    from django.utils import timezone

    from bench.loader import load_requests, load_views

    results: dict = {
        "started_at": started_at,
        "quick": quick,
        "small_data": args.small_data,
        "machine": machine_info(),
    }
    say("cast and template requests (the shared examples through the real services)")
    cast, token, template_statuses = make_cast()
    results["templates"] = template_statuses

    say(f"queue scale: {small:,} requests")
    now = timezone.now()
    from reviews.models import PriorAuthRequest

    load_requests(
        small - PriorAuthRequest.objects.count(),
        cast=cast,
        now=now,
        seed=1,
        label=f"{small:,} requests",
    )
    results["queue_scale"] = {"1000": measure_queue(str(small), cast, token, page_runs)}
    say(f"queue scale: {large:,} requests")
    load_requests(
        large - PriorAuthRequest.objects.count(),
        cast=cast,
        now=now,
        seed=2,
        label=f"{large:,} requests",
    )
    with_vacuum()
    results["queue_scale"]["100000"] = measure_queue(str(large), cast, token, page_runs)
    for size in ("1000", "100000"):
        print_queue(results["queue_scale"][size])

    workdir = Path(tempfile.gettempdir()) / f"lamina-bench-{QUEUE}"
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"starting gunicorn (2 workers), a Celery worker and the sealer; logs in {workdir}")
    bodies = Bodies(seed=3)
    _mkdir(workdir / "main")
    with Servers(workdir / "main") as servers:
        # Warm both endpoints (imports, connections, the worker's first evaluation).
        run_load(
            servers.port, "/api/v1/_floor/", token, bodies, concurrency=2, count=10, seconds=30
        )
        run_load(
            servers.port, "/api/v1/requests/", token, bodies, concurrency=2, count=10, seconds=30
        )
        results["intake"] = []
        for concurrency, count in counts.items():
            say(f"intake and floor at concurrency {concurrency}")
            floor = run_load(
                servers.port,
                "/api/v1/_floor/",
                token,
                bodies,
                concurrency=concurrency,
                count=count,
                seconds=phase_seconds,
            )
            intake = run_load(
                servers.port,
                "/api/v1/requests/",
                token,
                bodies,
                concurrency=concurrency,
                count=count,
                seconds=phase_seconds,
            )
            print(f"    floor  {json.dumps(floor)}\n    intake {json.dumps(intake)}")
            results["intake"].append({"floor": floor, "intake": intake})
            wait_for_backlog()
        say("Celery round trip (no-op task)")
        results["celery_ping"] = run_ping(20 if quick else 200)
        print(f"    {json.dumps(results['celery_ping'])}")
        say(f"end to end: submit to recommendation at {args.e2e_rate}/s")
        results["end_to_end"] = run_e2e(
            servers.port, token, bodies, rate=args.e2e_rate, seconds=15 if quick else 60
        )
        print(f"    {json.dumps(results['end_to_end'])}")
        say("statements per submission (in-process)")
        results["statements"] = measure_statements(token, bodies)
        print(
            f"    {results['statements']['statements']} statements, "
            f"{results['statements']['savepoints']} savepoint(s)"
        )
        wait_for_backlog()

    results["scale_out"] = []
    for webs, workers in ((1, 1), (2, 1), (1, 2), (2, 2)):
        say(
            f"scale-out: {webs} web server(s), {workers} Celery worker(s), "
            f"{args.scale_concurrency} clients for {scale_seconds:g} s"
        )
        directory = workdir / f"scale-{webs}w{workers}c"
        _mkdir(directory)
        with Servers(directory, webs=webs, workers=workers) as servers:
            run_load(
                servers.port,
                "/api/v1/requests/",
                token,
                bodies,
                concurrency=2,
                count=10,
                seconds=30,
            )
            wait_for_backlog()
            row = run_scaleout(
                servers,
                token,
                bodies,
                concurrency=args.scale_concurrency,
                seconds=scale_seconds,
            )
        print(f"    {json.dumps(row)}")
        results["scale_out"].append(row)

    say(f"audit: topping the trail up to {audit_total:,} events")
    load_views(audit_total, cast=cast, now=timezone.now())
    say("audit: verify_audit in a process of its own")
    results["audit"] = measure_verify()
    print(f"    {json.dumps(results['audit'])}")
    results["bench_seconds"] = round(time.monotonic() - run_started, 1)

    RESULTS.mkdir(exist_ok=True)
    stamp = started_at.replace("-", "").replace(":", "")
    out = RESULTS / f"bench-{stamp}{'-quick' if quick else ''}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    table = summary_table(results)
    say(f"results in {out.relative_to(REPO)} ({results['bench_seconds']} s)")
    print(table)
    results["scale_target"] = scale_target(results["queue_scale"])
    out.write_text(json.dumps(results, indent=2) + "\n")
    for page, verdict in results["scale_target"].items():
        print(f"Scale target, {page} (large <= 2x small, same queries): {verdict}")
    return 0


def scale_target(scale: dict) -> dict[str, str]:
    verdicts = {}
    for page in ("queue_page", "physician_queue_page"):
        small, large = scale["1000"][page], scale["100000"][page]
        holds = (
            large["median_ms"] <= 2 * small["median_ms"] and large["queries"] == small["queries"]
        )
        verdicts[page] = "holds" if holds else "MISSED"
    return verdicts


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def with_vacuum() -> None:
    """Refresh the planner's statistics after a bulk load, as autovacuum would shortly after."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def wait_for_backlog(limit: float = 300) -> None:
    """Let the worker drain the evidence checks queued by the last phase before the next starts."""
    from reviews.models import PriorAuthRequest, Status

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        waiting = PriorAuthRequest.objects.filter(
            status=Status.EVALUATING, channel="rest", external_id__startswith="BENCH-"
        ).count()
        if not waiting:
            return
        time.sleep(1)


def print_queue(scale: dict) -> None:
    q, d, p = scale["queue_page"], scale["physician_queue_page"], scale["provider_list"]
    print(
        f"    {scale['requests_on_file']:>7,} on file ({scale['in_nurse_queue']:,} in the nurse "
        f"queue): nurse's queue {q['median_ms']} ms / {q['queries']} queries; physician's queue "
        f"{d['median_ms']} ms / {d['queries']} queries; provider list {p['median_ms']} ms / "
        f"{p['queries']} queries"
    )


if __name__ == "__main__":
    sys.exit(main())
