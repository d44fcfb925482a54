"""Where the notes disagree with what the provider attested.

A pure function of the request's attested facts (REQUEST.md `clinical`), its procedure family
and the findings read from its notes. Three kinds of conflict:

1. red_flag: a red flag the note affirms (notes.reader.counts_as_present) while the request
   attests it absent or leaves it unknown.
2. conservative_care: the note states far less physical therapy than attested (visits or weeks
   below CARE_FRACTION of the attested figure), or denies a modality the request attests and no
   note affirms.
3. prior_procedure: the note states a relief percentage for a kind of procedure well below every
   relief the request attests for that kind, or below the criterion's threshold (80 % after a
   diagnostic block) that an attested relief meets.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from notes.reader import counts_as_present
from notes.rules import CONCEPT_BY_NAME, CONSERVATIVE_CARE, PRIOR_PROCEDURE, RED_FLAG
from reviews.reference import cpt_lookup

# A note stating less than this share of the attested visits or weeks contradicts it ("PT x2
# visits" against 12 attested); closer figures are rounding and partial counts.
CARE_FRACTION = 0.75
# Relief percentages within this many points of an attested one agree ("about 85 percent"
# against 86 computed from the scores).
RELIEF_TOLERANCE = 15

CARE_CRITERION = {
    "epidural_steroid_injection": "ESI-05",
    "facet_injection": "FJ-02",
    "radiofrequency_ablation": "FJ-02",
    "spinal_fusion": "FU-03",
    "vertebral_augmentation": "VA-02",
}
# Trauma, osteoporosis and steroids point to a fracture; which criterion reads that depends on
# the procedure.
FRACTURE_CRITERION = {
    "epidural_steroid_injection": "ESI-12",
    "facet_injection": "FJ-04",
    "radiofrequency_ablation": "FJ-04",
    "spinal_fusion": "FU-04",
    "vertebral_augmentation": "VA-01",
}
PROCEDURE_FAMILY = {
    "epidural_steroid_injection": "epidural_steroid_injection",
    "medial_branch_block": "facet_injection",
    "facet_injection": "facet_injection",
    "radiofrequency_ablation": "radiofrequency_ablation",
    "vertebral_augmentation": "vertebral_augmentation",
}
# The parameter holding the least relief the criteria accept after each kind of earlier
# procedure: a diagnostic block (FJ-05, FJ-06: 80 %), an ablation (FJ-07: 50 %), an epidural
# injection (ESI-08: 50 %).
RELIEF_THRESHOLD_PARAMETER = {
    "facet_injection": "mbb_min_relief_pct",
    "radiofrequency_ablation": "fj_rfa_repeat_min_relief_pct",
    "epidural_steroid_injection": "esi_repeat_min_relief_pct",
}
RELIEF_CRITERION = {
    "epidural_steroid_injection": "ESI-08",
    "facet_injection": "FJ-06",
    "radiofrequency_ablation": "FJ-07",
}


@dataclass
class NoteRead:
    """One attachment and what was found in it (NoteFinding rows or reader Findings)."""

    attachment_id: int
    title: str
    date: date | str | None
    text: str
    findings: Sequence


def _get(clinical: dict, path: str):
    value = clinical
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def attested_state(clinical: dict, paths: Iterable[str]) -> str:
    """present (any path true), absent (some path false, none true) or unknown."""
    values = [_get(clinical, p) for p in paths]
    if any(v is True or (isinstance(v, dict) and v) for v in values):
        return "present"
    if any(v is False for v in values):
        return "absent"
    return "unknown"


_ATTESTED_WORDS = {
    "neurological.bowel_bladder_dysfunction": "bowel or bladder dysfunction",
    "neurological.progressive_motor_deficit": "a progressive motor deficit",
    "red_flags.dialysis_or_diabetes": "dialysis or diabetes",
    "red_flags.osteoporosis_or_chronic_steroids": "osteoporosis or chronic steroids",
    "red_flags.iv_drug_use": "IV drug use",
    "oncology": "oncology details",
}


def _words(paths, joiner: str) -> str:
    return joiner.join(_ATTESTED_WORDS.get(p, p.split(".")[-1].replace("_", " ")) for p in paths)


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _note_name(note: NoteRead) -> str:
    name = f'the note "{note.title}"' if note.title else "an attached note"
    return f"{name} ({note.date})" if note.date else name


def _sentence(note: NoteRead, finding) -> str:
    sentence = " ".join(note.text[finding.sentence_start : finding.sentence_end].split())
    return sentence if len(sentence) <= 240 else sentence[:237] + "..."


def _conflict(kind, concept, criterion, explanation, note: NoteRead, finding) -> dict:
    return {
        "kind": kind,
        "concept": concept,
        "criterion": criterion,
        "explanation": explanation,
        "attachment_id": note.attachment_id,
        "span": [finding.start, finding.end],
        "text": finding.text,
    }


def _graded_denial(note: NoteRead, concept) -> bool:
    """Whether the note denies the concept in the words that grade it ("denies significant
    trauma"): its other mentions of the concept (a fall down two steps) are then the note's own
    account of something it judges not to be the red flag."""
    if not concept.graded_by_denial:
        return False
    for finding in note.findings:
        if finding.concept != concept.name or not finding.is_negated or finding.is_family:
            continue
        sentence = note.text[finding.sentence_start : finding.sentence_end].lower()
        if any(word in sentence for word in concept.graded_by_denial):
            return True
    return False


def _red_flag_conflicts(clinical: dict, family: str, notes: list[NoteRead]) -> list[dict]:
    conflicts = []
    for note in notes:
        seen = set()
        for finding in note.findings:
            concept = CONCEPT_BY_NAME[finding.concept]
            if concept.category != RED_FLAG or concept.name in seen:
                continue
            if not counts_as_present(finding) or _graded_denial(note, concept):
                continue
            state = attested_state(clinical, concept.attested)
            if state == "present":
                continue
            seen.add(concept.name)
            if state == "absent":
                absent = [p for p in concept.attested if _get(clinical, p) is False]
                told = f"the request attests {_words(absent, ' and ')} as absent"
            else:
                told = (
                    f"the request does not say whether {_words(concept.attested, ' or ')} "
                    "is present"
                )
            possible = "raises the possibility of" if finding.is_uncertain else "records"
            explanation = (
                f"{_sentence_case(_note_name(note))} {possible} {concept.label} "
                f'("{_sentence(note, finding)}"), but {told}.'
            )
            criterion = concept.criterion or FRACTURE_CRITERION.get(family, "")
            conflicts.append(
                _conflict("red_flag", concept.name, criterion, explanation, note, finding)
            )
    return conflicts


def _parse_date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _attested_therapy(clinical: dict) -> tuple[int | None, int | None, list[dict]]:
    """(total visits, total days, episodes) of attested physical therapy; None when unknown."""
    episodes = [
        c
        for c in clinical.get("conservative_care") or []
        if isinstance(c, dict) and c.get("modality") == "physical_therapy"
    ]
    visits = [c.get("visits") for c in episodes if isinstance(c.get("visits"), int | float)]
    spans = []
    for c in episodes:
        start, end = _parse_date(c.get("start_date")), _parse_date(c.get("end_date"))
        # An ongoing episode has no length yet to contradict.
        spans.append((end - start).days if start and end and end >= start else None)
    total_days = sum(spans) if spans and None not in spans else None
    return (int(sum(visits)) if visits else None), total_days, episodes


def _care_conflicts(clinical: dict, family: str, notes: list[NoteRead]) -> list[dict]:
    criterion = CARE_CRITERION.get(family, "")
    conflicts = []
    attested_visits, attested_days, episodes = _attested_therapy(clinical)
    therapy = [
        (note, f)
        for note in notes
        for f in note.findings
        if f.concept == "physical_therapy" and _care_given(f)
    ]
    for field, attested in (("visits", attested_visits), ("duration_days", attested_days)):
        stated = [(note, f) for note, f in therapy if getattr(f, field) is not None]
        if not attested or not stated:
            continue
        # The notes' most generous figure: an early note counting the first visits is not a
        # contradiction when a later one states the full course.
        note, finding = max(stated, key=lambda nf, field=field: getattr(nf[1], field))
        value = getattr(finding, field)
        if value >= CARE_FRACTION * attested:
            continue
        if field == "visits":
            says, claims = f"{value} visits of physical therapy", f"{attested} visits"
        else:
            says = f"physical therapy for {_weeks(value)}"
            claims = f"{_weeks(attested)} ({_episode_dates(episodes)})"
        explanation = (
            f'{_sentence_case(_note_name(note))} states {says} ("{_sentence(note, finding)}"), '
            f"but the request attests {claims} of physical therapy."
        )
        conflicts.append(
            _conflict(
                "conservative_care", "physical_therapy", criterion, explanation, note, finding
            )
        )
    attested_modalities = {
        c.get("modality") for c in clinical.get("conservative_care") or [] if isinstance(c, dict)
    }
    for modality in sorted(attested_modalities):
        concept = CONCEPT_BY_NAME.get(modality)
        if concept is None or concept.category != CONSERVATIVE_CARE:
            continue
        mentions = [(n, f) for n in notes for f in n.findings if f.concept == modality]
        if any(_care_given(f) for _, f in mentions):
            continue
        denied = [
            (n, f)
            for n, f in mentions
            if f.is_negated and not f.is_hypothetical and not f.is_family
        ]
        if not denied:
            continue
        note, finding = denied[0]
        explanation = (
            f"{_sentence_case(_note_name(note))} says the patient has not had {concept.label} "
            f'("{_sentence(note, finding)}"), but the request attests {concept.label}.'
        )
        conflicts.append(
            _conflict("conservative_care", modality, criterion, explanation, note, finding)
        )
    return conflicts


def _care_given(finding) -> bool:
    """Care the note says the patient had: past care is still care given."""
    return not (finding.is_negated or finding.is_hypothetical or finding.is_family)


def _weeks(days: int) -> str:
    weeks = days / 7
    return f"{weeks:g} weeks" if weeks == int(weeks) else f"{days} days ({weeks:.1f} weeks)"


def _episode_dates(episodes: list[dict]) -> str:
    return ", ".join(f"{e.get('start_date')} to {e.get('end_date')}" for e in episodes)


def _attested_relief(procedure: dict) -> float | None:
    """The relief the criteria read: the scores' when both are given, else the stated percent."""
    baseline, post = procedure.get("baseline_score"), procedure.get("post_score")
    if isinstance(baseline, int | float) and isinstance(post, int | float) and baseline > 0:
        return (baseline - post) / baseline * 100
    relief = procedure.get("relief_percent")
    if isinstance(relief, int | float):
        return float(relief)
    return None


@cache
def relief_thresholds() -> dict[str, float]:
    """The least relief the criteria accept after each kind of earlier procedure, from the
    shipped policy parameters (RELIEF_THRESHOLD_PARAMETER)."""
    from criteria.loader import read_directory

    library, policies = read_directory()
    parameters = dict(library["parameters"])
    for _path, policy in policies:
        parameters.update(policy.get("parameters") or {})
    return {
        family: float(parameters[name]["value"])
        for family, name in RELIEF_THRESHOLD_PARAMETER.items()
    }


def _relief_disagrees(stated: float, reliefs: list[float], threshold: float | None) -> bool:
    """A note's relief figure disagrees with the attested ones when it is far below every one of
    them, or below the criterion's threshold that an attested one meets: within RELIEF_TOLERANCE
    of 86 % is rounding, but a note saying 72 % cannot stand for a block that met 80 %."""
    if stated < min(reliefs) - RELIEF_TOLERANCE:
        return True
    return threshold is not None and stated < threshold <= max(reliefs)


def _procedure_conflicts(
    clinical: dict, notes: list[NoteRead], thresholds: dict[str, float]
) -> list[dict]:
    attested: dict[str, list[float]] = {}
    for procedure in clinical.get("prior_procedures") or []:
        if not isinstance(procedure, dict):
            continue
        code = cpt_lookup(str(procedure.get("cpt_code") or ""))
        relief = _attested_relief(procedure)
        if code is not None and relief is not None:
            attested.setdefault(code.family, []).append(relief)
    conflicts = []
    for note in notes:
        for finding in note.findings:
            if finding.category != PRIOR_PROCEDURE or finding.percent is None:
                continue
            if finding.is_negated or finding.is_hypothetical or finding.is_family:
                continue
            family = PROCEDURE_FAMILY.get(finding.concept)
            reliefs = attested.get(family or "")
            threshold = thresholds.get(family or "")
            if not reliefs or not _relief_disagrees(finding.percent, reliefs, threshold):
                continue
            label = CONCEPT_BY_NAME[finding.concept].label
            claimed = ", ".join(f"{r:.0f} %" for r in reliefs)
            below = (
                f" (the criterion needs {threshold:g} %)"
                if threshold is not None and finding.percent < threshold
                else ""
            )
            explanation = (
                f"{_sentence_case(_note_name(note))} states {finding.percent} % relief after a "
                f'{label} ("{_sentence(note, finding)}"), but the request attests {claimed}'
                f"{below}."
            )
            conflicts.append(
                _conflict(
                    "prior_procedure",
                    finding.concept,
                    RELIEF_CRITERION.get(family, ""),
                    explanation,
                    note,
                    finding,
                )
            )
    return conflicts


def conflicts_find(
    *,
    clinical: dict,
    family: str,
    notes: list[NoteRead],
    thresholds: dict[str, float] | None = None,
) -> list[dict]:
    """Every disagreement between the notes and the attested facts, red flags first.

    `thresholds`: the least relief the criteria accept after each kind of earlier procedure
    (procedure family -> percent); the shipped policies' (relief_thresholds()) when omitted."""
    clinical = clinical if isinstance(clinical, dict) else {}
    return (
        _red_flag_conflicts(clinical, family, notes)
        + _care_conflicts(clinical, family, notes)
        + _procedure_conflicts(
            clinical, notes, relief_thresholds() if thresholds is None else thresholds
        )
    )
