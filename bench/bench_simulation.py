"""Benchmark: a policy simulation replaying 100,000 past requests, in-process, on PostgreSQL.

Run from the repository root with the bench's database and Redis (it drops and recreates the
database it is given):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lamina_bench \
    REDIS_URL=redis://127.0.0.1:6379/5 SECRET_KEY=lamina-bench-key \
    .venv/bin/python -m bench.bench_simulation [--requests 100000]

1. A fresh database (the bench's own, dropped and created), migrated, the shipped policies, and
   the bench's cast: the three shared examples made into requests by the real services.
2. `--requests` requests of one family (epidural steroid injections, the commonest), each with
   the evaluation the real checks gave its template, written with COPY.
3. Timed, in one process:
   - the floor: streaming the same evaluation rows out of PostgreSQL as the replay reads them
     (the request, its date, facts, trace and checks), doing nothing with them;
   - the replay: `simulation_run` of a draft asking for 42 days of conservative care instead of
     28, which streams the rows, evaluates each under the draft and decides as the live checks do.
   The ratio replay / floor says how much the engine and the tally add to reading the rows.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from datetime import date, timedelta


def _load(requests: int) -> None:
    from django.db import transaction
    from django.utils import timezone
    from tqdm import tqdm

    from bench.loader import copy_insert
    from reviews.models import Evaluation, Member, PriorAuthRequest, Status

    template_request = PriorAuthRequest.objects.filter(
        procedure_family="epidural_steroid_injection"
    ).first()
    template = template_request.evaluations.order_by("-round").first()
    member = Member.objects.get(pk=template_request.member_id)
    now = timezone.now()
    batch = 5000
    done = 0
    with tqdm(total=requests, desc="loading requests", unit="req", mininterval=1.0) as bar:
        while done < requests:
            size = min(batch, requests - done)
            with transaction.atomic():
                rows = []
                for i in range(size):
                    received = now - timedelta(minutes=done + i)
                    rows.append(
                        PriorAuthRequest(
                            organization_id=template_request.organization_id,
                            submitted_by_id=template_request.submitted_by_id,
                            member=member,
                            external_id=f"SIM-{done + i:07d}",
                            channel=template_request.channel,
                            urgency=template_request.urgency,
                            line_of_business=template_request.line_of_business,
                            requesting_provider_npi=template_request.requesting_provider_npi,
                            requesting_provider_name=template_request.requesting_provider_name,
                            procedure_family=template_request.procedure_family,
                            service=template_request.service,
                            diagnosis_codes=template_request.diagnosis_codes,
                            clinical=template_request.clinical,
                            status=Status.APPROVED,
                            recommendation=template.recommendation,
                            received_at=received,
                            due_at=received + timedelta(days=7),
                        )
                    )
                created = copy_insert(PriorAuthRequest, rows)
                evaluations = []
                for pa_request in created:
                    evaluation = copy.copy(template)
                    evaluation.pk = None
                    evaluation.request_id = pa_request.pk
                    evaluations.append(evaluation)
                copy_insert(Evaluation, evaluations)
            done += size
            bar.update(size)


def _floor(simulation) -> tuple[float, int]:
    from reviews.services.simulation import _rows

    started = time.perf_counter()
    count = sum(1 for _ in _rows(simulation))
    return time.perf_counter() - started, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)

    from bench.__main__ import make_cast, manage, reset_database, say, setup_django

    say(f"fresh database {reset_database()}")
    manage("migrate", "--noinput")
    manage("load_policies")
    setup_django()
    say("cast and template requests (the shared examples through the real services)")
    make_cast()
    _load(args.requests)

    from django.db import connection

    from criteria.models import PolicyVersion
    from criteria.services import policy_version_copy_as_draft, policy_version_draft_update
    from reviews.services.simulation import simulation_create, simulation_run

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reviews_evaluation")
        cursor.execute("VACUUM ANALYZE reviews_priorauthrequest")
    active = PolicyVersion.objects.get(
        policy__family="epidural_steroid_injection", profile="baseline", status="active"
    )
    draft = policy_version_copy_as_draft(version=active)
    content = copy.deepcopy(draft.content)
    content["parameters"]["esi_conservative_min_days"]["value"] = 42
    draft = policy_version_draft_update(version=draft, content=content)
    simulation = simulation_create(
        version=draft, since=date(2000, 1, 1), until=date.today() + timedelta(days=1)
    )

    say("timing: the floor (streaming the rows), then the replay")
    floor_seconds, count = _floor(simulation)
    started = time.perf_counter()
    result = simulation_run(simulation=simulation)
    replay_seconds = time.perf_counter() - started
    figures = {
        "requests": result["requests"],
        "rows_streamed": count,
        "changed": result["changed"],
        "floor_seconds": round(floor_seconds, 2),
        "replay_seconds": round(replay_seconds, 2),
        "replayed_per_second": round(result["requests"] / replay_seconds),
        "ratio_replay_to_floor": round(replay_seconds / floor_seconds, 1),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"\n| requests | floor (stream rows) | replay | requests/s | replay / floor |\n"
        f"| --- | --- | --- | --- | --- |\n"
        f"| {figures['requests']:,} | {figures['floor_seconds']} s | "
        f"{figures['replay_seconds']} s | {figures['replayed_per_second']:,} | "
        f"{figures['ratio_replay_to_floor']}x |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
