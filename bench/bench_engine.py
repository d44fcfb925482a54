"""Benchmark: one request evaluated against its policy version, facts included, in-process.

Run from the repository root: `.venv/bin/python bench/bench_engine.py [--n 10000]`.

The pure path only (no database, no Django): build_facts from the request's plain data, then
criteria.engine.evaluate on the compiled policy version, cycling through the three shared
examples. As a floor measured in the same process, a JSON round trip of the same facts (something
trivial every evaluation also pays when the facts are stored), so the ratio survives a slower
machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from criteria.engine import evaluate  # noqa: E402
from criteria.loader import load_directory  # noqa: E402
from reviews.facts import build_facts  # noqa: E402
from reviews.reference import family_for_codes  # noqa: E402

EXAMPLES = ROOT / "docs" / "api" / "examples"
REVIEW_DATE = date(2026, 11, 23)


def _cases() -> list[tuple[dict, dict, dict]]:
    versions = {(v["family"], v["profile"]): v["content"] for v in load_directory()}
    cases = []
    for path in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(path.read_text())
        family, _ = family_for_codes(body["service"]["cpt_codes"])
        data = {
            "service": body["service"],
            "clinical": body["clinical"],
            "diagnosis_codes": body["diagnosis_codes"],
            "procedure_family": family,
            "urgency": body["urgency"],
            "line_of_business": body.get("line_of_business", "commercial"),
            "attachments": body.get("attachments", []),
        }
        member = {
            "birth_date": date.fromisoformat(body["member"]["birth_date"]),
            "sex": body["member"]["sex"],
        }
        cases.append((data, member, versions[(family, "baseline")]))
    return cases


def _percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="evaluations (default 10,000)")
    args = parser.parse_args()
    cases = _cases()
    clock = time.perf_counter_ns

    def one(i: int) -> dict:
        data, member, content = cases[i % len(cases)]
        facts = build_facts(request_data=data, review_date=REVIEW_DATE, history=[], member=member)
        evaluate(content, facts, review_date=REVIEW_DATE)
        return facts

    for i in range(300):  # warm caches (ICD lookups, lambdas) before measuring
        one(i)
    engine_ns, floor_ns = [], []
    for i in range(args.n):
        start = clock()
        facts = one(i)
        engine_ns.append(clock() - start)
        start = clock()
        json.loads(json.dumps(facts, default=str))
        floor_ns.append(clock() - start)

    def us(value: float) -> str:
        return f"{value / 1000:8.1f} us"

    engine_median, floor_median = statistics.median(engine_ns), statistics.median(floor_ns)
    print(f"evaluations: {args.n} (3 shared examples, baseline profile, facts included)")
    print(f"engine + facts  median {us(engine_median)}   p95 {us(_percentile(engine_ns, 0.95))}")
    print(f"json round trip median {us(floor_median)}   p95 {us(_percentile(floor_ns, 0.95))}")
    print(f"ratio (median engine / median json round trip): {engine_median / floor_median:.1f}x")


if __name__ == "__main__":
    main()
