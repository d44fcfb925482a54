"""How fast Lamina reads clinical notes: notes per second for notes of about 2,000 characters.

In-process, as the Celery worker reads them during the evidence checks: the medspaCy pipeline is
built once and warm, and notes are read one at a time (notes.reader.note_read: tokenizer,
sentence splitter, target rules, ConText, then the numbers stated next to each concept). Two
baselines over the same texts in the same process give the ratio:

- regex: one compiled alternation of every literal in notes.rules, case-insensitive, scanned
  over each note (finds words, knows no context);
- tokenizer: spaCy's blank English tokenizer alone (the floor of any spaCy pipeline).

Also shown: the same reading through nlp.pipe() in one batch, and the finding counts.

    python -m bench.bench_notes [--notes 400] [--seed 7]

Needs no database; results go to bench/results/notes-<UTC time>.json and a summary is printed.
"""

import argparse
import json
import platform
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_CHARS = 2000

# Sentences a spine clinic note is made of; red flags affirmed, denied, historical, in a
# relative, as warnings; therapy and medications with numbers; procedures with relief.
SENTENCES = [
    "{age}-year-old {sex} with low back pain radiating to the {side} leg since {month}.",
    "Pain is {nrs}/10, worse with sitting and bending, better lying down.",
    "Denies fever, chills, unexplained weight loss, bowel or bladder changes.",
    "No saddle anesthesia or urinary retention.",
    "New urinary retention and saddle numbness since yesterday.",
    "History of breast cancer treated in 2014, in remission.",
    "Mother had colon cancer; father with diabetes.",
    "Return to the emergency department if fever, incontinence or new weakness develops.",
    "Completed {weeks} weeks of physical therapy ({visits} visits) without lasting relief.",
    "PT x{few} visits, stopped due to cost.",
    "Tried naproxen 500 mg twice daily and cyclobenzaprine at night with partial relief.",
    "Gabapentin 300 mg three times daily was not tolerated because of dizziness.",
    "A Medrol dose pack in {month} helped for a few days.",
    "Tramadol as needed, no more than twice a day.",
    "Prior right L5-S1 transforaminal epidural steroid injection gave {pct}% relief for 3 months.",
    "Two diagnostic medial branch blocks each gave about {pct} percent relief.",
    "Straight leg raise positive on the {side} at 45 degrees; strength 5/5 throughout.",
    "Reflexes 2+ and symmetric; no clonus, Hoffmann negative, gait normal.",
    "MRI shows a {side} paracentral L5-S1 extrusion contacting the traversing S1 root.",
    "Denies IV drug use; not immunosuppressed; no history of osteoporosis or chronic steroids.",
    "No trauma; pain began after lifting a box at work.",
    "Night pain is absent; she sleeps through the night.",
    "Home exercise program reviewed and continued.",
    "Plan: {side} L5-S1 transforaminal epidural steroid injection under fluoroscopy.",
    "Smoking status: never. BMI {bmi}.",
    "Discussed risks of infection, bleeding and nerve injury; she wishes to proceed.",
]


def note_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    notes = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < TARGET_CHARS:
            parts.append(
                rng.choice(SENTENCES).format(
                    age=rng.randint(25, 85),
                    sex=rng.choice(["woman", "man"]),
                    side=rng.choice(["right", "left"]),
                    month=rng.choice(["March", "June", "August", "October"]),
                    nrs=rng.randint(3, 9),
                    weeks=rng.randint(2, 12),
                    visits=rng.randint(2, 16),
                    few=rng.randint(1, 4),
                    pct=rng.choice([30, 50, 70, 80, 85, 90]),
                    bmi=round(rng.uniform(19, 38), 1),
                )
            )
        notes.append(" ".join(parts))
    return notes


def timed(fn, texts: list[str]) -> tuple[float, list[float]]:
    """Total seconds and per-note seconds for fn over texts, one note at a time."""
    each = []
    start = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        fn(text)
        each.append(time.perf_counter() - t0)
    return time.perf_counter() - start, each


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))

    import spacy

    from notes.reader import note_read, pipeline
    from notes.rules import CONCEPTS

    texts = note_texts(args.notes, args.seed)
    chars = statistics.mean(len(t) for t in texts)

    build_start = time.perf_counter()
    nlp = pipeline()
    build_seconds = time.perf_counter() - build_start
    for text in texts[:20]:  # warm: the worker has read notes before this one
        note_read(text)

    literals = sorted({lit for c in CONCEPTS for lit in c.literals}, key=len, reverse=True)
    regex = re.compile(r"\b(?:" + "|".join(re.escape(lit) for lit in literals) + r")\b", re.I)
    tokenizer = spacy.blank("en").tokenizer

    findings = [0]

    def read(text):
        findings[0] += len(note_read(text))

    runs = {
        "medspacy reader (note_read)": timed(read, texts),
        "baseline: regex over the literals": timed(lambda t: regex.findall(t), texts),
        "baseline: spaCy blank tokenizer": timed(tokenizer, texts),
    }
    batch_start = time.perf_counter()
    list(nlp.pipe(texts))
    batch_seconds = time.perf_counter() - batch_start

    reader_rate = len(texts) / runs["medspacy reader (note_read)"][0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "notes": len(texts),
        "mean_chars": round(chars),
        "pipeline_build_seconds": round(build_seconds, 3),
        "findings_per_note": round(findings[0] / len(texts), 1),
        "nlp_pipe_batch_notes_per_second": round(len(texts) / batch_seconds, 1),
        "runs": {},
    }
    for name, (total, each) in runs.items():
        rate = len(texts) / total
        ordered = sorted(each)
        result["runs"][name] = {
            "notes_per_second": round(rate, 1),
            "ms_per_note_p50": round(1000 * statistics.median(each), 3),
            "ms_per_note_p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
            "reader_slowdown": round(rate / reader_rate, 1),
        }

    print(f"\n## Reading clinical notes ({len(texts)} notes, mean {result['mean_chars']} chars)\n")
    print("| run | notes/s | ms/note p50 | ms/note p95 | times faster than the reader |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, row in result["runs"].items():
        print(
            f"| {name} | {row['notes_per_second']:,.1f} | {row['ms_per_note_p50']} | "
            f"{row['ms_per_note_p95']} | {row['reader_slowdown']} |"
        )
    print(
        f"\nPipeline built once in {result['pipeline_build_seconds']} s; "
        f"{result['findings_per_note']} findings per note; nlp.pipe() batch: "
        f"{result['nlp_pipe_batch_notes_per_second']:,.1f} notes/s."
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"notes-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"Results: {path.relative_to(REPO)}")
    return result


if __name__ == "__main__":
    main()
