"""manage.py simulate_policy PATH_OR_VERSION --since DATE [--until DATE] [--json]

Replays the requests of a family received in the period against a policy version (a stored draft
by id or label, or a policy file) and prints what would change. Nothing of the live data changes.
"""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from reviews.services.simulation import SimulationError, simulation_for_name, simulation_run


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}.") from exc


LABELS = {
    "approve": "approve",
    "pend_missing_information": "pend",
    "nurse_review": "nurse",
    "physician_review": "physician",
}


class Command(BaseCommand):
    help = (
        "Replay the requests of a policy's family received in a period against a policy version "
        "(a stored version's id or label such as spinal_fusion/baseline/v3, or a policy file) and "
        "report how the recommendations would change. Nothing of the live data changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("target", help="a policy file or directory, or a stored version")
        parser.add_argument("--since", required=True, help="first day received, YYYY-MM-DD")
        parser.add_argument("--until", help="last day received, YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--profile",
            default="baseline",
            choices=["baseline", "evidence_strict"],
            help="the profile simulated from a file (a stored version has its own)",
        )
        parser.add_argument("--family", help="the family, when the target is a directory")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")

    def handle(self, *args, target, since, until=None, profile, family=None, as_json, **options):
        since = _date(since)
        until = _date(until) if until else timezone.localdate()
        try:
            simulation = simulation_for_name(
                target, since=since, until=until, profile=profile, family=family
            )
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        with tqdm(total=0, unit="req", disable=None, file=self.stderr._out) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = simulation_run(simulation=simulation, progress=progress)
        if as_json:
            self.stdout.write(json.dumps({"simulation": simulation.pk, **result}, indent=2))
            return
        self._table(simulation, result)

    def _table(self, simulation, result) -> None:
        out = self.stdout.write
        out(
            f"Simulation {simulation.pk}: {simulation.source} ({simulation.family}, "
            f"{simulation.profile}), requests received {simulation.since} to {simulation.until}"
        )
        out(f"requests replayed: {result['requests']}; recommendation changed: {result['changed']}")
        share = result["approval_share"]
        if result["requests"]:
            out(f"automatic approvals: {share['before']:.1%} before, {share['after']:.1%} after")
        out("")
        out(f"{'recommendation':<16}{'before':>8}{'after':>8}")
        for key, label in LABELS.items():
            out(f"{label:<16}{result['before'][key]:>8}{result['after'][key]:>8}")
        if result["table"]:
            out("")
            out("from -> to")
            for cell in result["table"]:
                if cell["from"] != cell["to"]:
                    out(f"  {LABELS[cell['from']]} -> {LABELS[cell['to']]}: {cell['count']}")
        if result["changes"]:
            out("")
            out("changed requests")
            for change in result["changes"]:
                criteria = ", ".join(
                    f"{c['id']} {c['from']}->{c['to']}" for c in change["criteria"]
                )
                out(
                    f"  {change['reference']} {LABELS[change['from']]} -> "
                    f"{LABELS[change['to']]}: {criteria or 'no criterion changed'}"
                )
